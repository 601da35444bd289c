//! One module per subcommand of `ferrofold`: its options (clap) and a thin layer over the
//! library function that does the work.

pub mod convert;
pub mod data;
pub mod featurize;
pub mod forward;
pub mod predict;
pub mod score;
pub mod train;
pub mod weights;

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use ferrofold_features::templates::{read_obsolete_pdbs, TemplateConfig};
use ferrofold_inference::TemplateSource;
use ferrofold_model::config::AttentionKernel;

/// Where the network runs (`--device`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Device {
    /// The CPU (burn-ndarray, all cores).
    Cpu,
    /// A GPU through burn-wgpu: Vulkan, Metal or DirectX (build with `--features wgpu`).
    Wgpu,
    /// An NVIDIA GPU through burn-cuda (build with `--features cuda`).
    Cuda,
}

/// `--attention`: which implementation computes attention.
#[derive(Clone, Copy, PartialEq, Eq, Debug, clap::ValueEnum)]
pub enum Attention {
    /// ferrofold's fused kernel on GPUs (wgpu, cuda); burn's operations on the CPU.
    Fused,
    /// burn's operations everywhere (the reference the kernel is tested against).
    Reference,
}

impl From<Attention> for AttentionKernel {
    fn from(attention: Attention) -> Self {
        match attention {
            Attention::Fused => AttentionKernel::Fused,
            Attention::Reference => AttentionKernel::Reference,
        }
    }
}

/// Work generic over burn's backend, run by [`run_on_device`] on the backend `--device` names.
pub trait OnDevice {
    type Output;
    fn run<B: burn::prelude::Backend>(self, device: &B::Device) -> Result<Self::Output>;
}

/// Runs `job` on `device`'s backend (float32), or says how to build ferrofold with it.
pub fn run_on_device<J: OnDevice>(device: Device, job: J) -> Result<J::Output> {
    match device {
        Device::Cpu => job.run::<ferrofold_model::CpuF32>(&Default::default()),
        #[cfg(feature = "wgpu")]
        Device::Wgpu => job.run::<burn::backend::Wgpu>(&Default::default()),
        #[cfg(feature = "cuda")]
        Device::Cuda => job.run::<burn::backend::Cuda>(&Default::default()),
        #[allow(unreachable_patterns)]
        missing => {
            let name = format!("{missing:?}").to_lowercase();
            bail!("--device {name}: this ferrofold was built without it; rebuild with `--features {name}`")
        }
    }
}

/// An error and its causes on one line, each cause once: errors that already quote their
/// cause (`path: No such file or directory`) would otherwise print it twice.
pub fn one_line(error: &(dyn std::error::Error + 'static)) -> String {
    let mut line = String::new();
    let mut cause = Some(error);
    while let Some(current) = cause {
        cause = current.source();
        let text = current.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}

/// `--threads`: rayon's pool (batched matmuls, featurisation, data parallelism) and
/// matrixmultiply's own pool, which sizes itself from `MATMUL_NUM_THREADS` on its first matmul.
pub fn set_threads(threads: Option<u16>) -> Result<()> {
    let Some(threads) = threads.map(usize::from) else { return Ok(()) };
    if std::env::var_os("MATMUL_NUM_THREADS").is_none() {
        // Before any tensor work: nothing else reads the environment concurrently yet.
        std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .context("setting the thread count")
}

/// Templates from hhsearch hits and mmCIF files (AlphaFold's template pipeline).
#[derive(clap::Args, Clone)]
pub struct TemplateArgs {
    /// hhsearch hits of the query against a PDB70-style database (.hhr), for single-record input.
    #[arg(long, requires = "mmcif_dir", conflicts_with = "template_dir")]
    pub template_hits: Option<PathBuf>,
    /// Directory with `<id>.hhr` per record (records without one get no templates).
    #[arg(long, requires = "mmcif_dir")]
    pub template_dir: Option<PathBuf>,
    /// Search templates with hhsearch in this PDB70-style database (ffindex prefix), from each
    /// record's first alignment (predict only).
    #[arg(long, requires = "mmcif_dir", conflicts_with_all = ["template_hits", "template_dir"])]
    pub template_database: Option<PathBuf>,
    /// Template structures: a directory of `<pdb id>.cif` files (a PDB mmCIF mirror).
    #[arg(long)]
    pub mmcif_dir: Option<PathBuf>,
    /// Use no template released after this date (YYYY-MM-DD). Default: no cut-off.
    #[arg(long)]
    pub max_template_date: Option<String>,
    /// Templates kept per record (AlphaFold: 20; the network reads the first 4).
    #[arg(long, default_value_t = 20)]
    pub max_template_hits: usize,
    /// The PDB's obsolete.dat: hits to obsolete entries use their replacement.
    #[arg(long)]
    pub obsolete_pdbs: Option<PathBuf>,
}

impl TemplateArgs {
    /// The template search settings, if templates were asked for.
    pub fn config(&self) -> Result<Option<TemplateConfig>> {
        let Some(mmcif_dir) = &self.mmcif_dir else {
            return Ok(None);
        };
        if self.template_hits.is_none()
            && self.template_dir.is_none()
            && self.template_database.is_none()
        {
            bail!("--mmcif-dir needs --template-hits, --template-dir or --template-database");
        }
        if !mmcif_dir.is_dir() {
            bail!("--mmcif-dir {}: not a directory", mmcif_dir.display());
        }
        let mut config = TemplateConfig::new(mmcif_dir, self.max_template_date.as_deref())?;
        config.max_hits = self.max_template_hits;
        if let Some(path) = &self.obsolete_pdbs {
            config.obsolete_pdbs = read_obsolete_pdbs(path)?;
        }
        Ok(Some(config))
    }

    /// Where each record's template hits come from.
    pub fn source(&self) -> TemplateSource {
        match (&self.template_database, &self.template_hits, &self.template_dir) {
            (Some(database), _, _) => TemplateSource::Search { database: database.clone() },
            (None, Some(path), _) => TemplateSource::File(path.clone()),
            (None, None, Some(dir)) => TemplateSource::Directory(dir.clone()),
            (None, None, None) => TemplateSource::None,
        }
    }
}
