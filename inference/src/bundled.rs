//! ferrofold's bundled model: the `small` network (0.34 M parameters) trained by this project
//! on the project's data set of structures and families on two CPU cores (bench/RESULTS.md, "The
//! bundled model"), shipped inside the binary so that `predict` runs with no download. Its
//! accuracy on chains it never saw is low; every run says so.

use std::path::Path;

use ferrofold_model::ParamFile;

use crate::error::Result;

pub const NAME: &str = "ferrofold_small";
pub const PRESET: &str = "small";
/// The weights' average (EMA) at the end of training, under AlphaFold's parameter names.
const WEIGHTS: &[u8] = include_bytes!("../assets/ferrofold_small.safetensors");
/// Optimizer steps it was trained for.
pub const TRAINING_STEPS: usize = 8_000;
/// Mean lDDT-Cα and TM-score (`ferrofold score`) of its predictions of the 8 validation chains.
pub const VALIDATION_LDDT_CA: f64 = 0.092;
pub const VALIDATION_TM_SCORE: f64 = 0.134;

/// The bundled parameters.
pub fn params() -> Result<ParamFile> {
    Ok(ParamFile::from_safetensors_bytes(WEIGHTS, Path::new("<bundled ferrofold_small>"))?)
}

/// What a run with the bundled model prints (stderr), framed.
pub fn warning() -> String {
    let lines = [
        "WARNING: no weights installed and no --params given, so ferrofold's bundled".into(),
        format!("model is used: a small network trained for {TRAINING_STEPS} steps on two CPU"),
        format!(
            "cores. On chains it never saw it scores lDDT-Cα {VALIDATION_LDDT_CA:.2} and TM-score \
             {VALIDATION_TM_SCORE:.2}:"
        ),
        "chance level. Its structures are NOT predictions. For real ones, install".into(),
        "AlphaFold's weights once: `ferrofold weights download alphafold` (README).".to_string(),
    ];
    let width = 78;
    let border = "*".repeat(width + 4);
    let mut text = border.clone();
    for line in lines {
        let pad = width.saturating_sub(line.chars().count());
        text.push_str(&format!("\n* {line}{} *", " ".repeat(pad)));
    }
    text.push('\n');
    text.push_str(&border);
    text
}

/// The REMARK its PDB files carry (within the 80 columns of a PDB line).
pub fn remark() -> String {
    format!(
        "LOW-ACCURACY BUNDLED MODEL, VALIDATION LDDT-CA {VALIDATION_LDDT_CA:.2}: NOT A PREDICTION"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrofold_model::{AlphaFold, CpuF32, ModelConfig};

    #[test]
    fn the_bundled_weights_load_into_their_preset_and_are_small() {
        assert!(WEIGHTS.len() <= 50 << 20, "{} bytes", WEIGHTS.len());
        let config = ModelConfig::preset(PRESET).unwrap();
        let model = AlphaFold::<CpuF32>::load(&params().unwrap(), &config, &Default::default());
        assert!(model.is_ok(), "{:?}", model.err());
        assert!(warning().lines().all(|l| l.chars().count() == 82), "{}", warning());
    }
}
