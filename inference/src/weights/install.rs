//! `weights download`: fetch a release, check every parameter file, then install it in one
//! step (a staging directory renamed into place, the manifest written last).

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use super::download::{fetch, DownloadEvent, DownloadOptions};
use super::{
    check_parameters, directory_error, file_digest, flat, InstalledModel, Layout, Manifest,
    Release, Result, WeightsError,
};

/// What to install and from where.
#[derive(Debug, Clone)]
pub struct InstallRequest {
    pub release: Release,
    /// The weights directory (see [`super::weights_dir`]).
    pub dir: PathBuf,
    /// A mirror: the archive's URL (tar releases) or the directory holding the files.
    pub url: Option<String>,
    /// Check and run every parameter file as this preset instead of the one its name gives
    /// (a mirror of retrained or reduced models under AlphaFold's names).
    pub preset: Option<String>,
    pub options: DownloadOptions,
}

/// A parameter file waiting for its check.
struct Candidate {
    file: String,
    path: PathBuf,
    url: String,
    /// The download it came from (the archive, or the file itself).
    download: PathBuf,
}

/// Downloads `request.release` (resuming an interrupted download), checks every parameter
/// file and installs the release into `<dir>/<release>/`, replacing an earlier installation
/// of it. A file that fails its check installs nothing and is deleted, so that the next run
/// fetches it again. Returns the installed models.
pub fn download_and_install(
    request: &InstallRequest,
    on_event: &mut dyn FnMut(DownloadEvent),
) -> Result<Vec<InstalledModel>> {
    let release = &request.release;
    let dir = &request.dir;
    let downloads = dir.join(".downloads");
    fs::create_dir_all(&downloads).map_err(|e| directory_error(&downloads, e))?;
    let staging = tempfile::Builder::new()
        .prefix(".staging-")
        .tempdir_in(dir)
        .map_err(|e| directory_error(dir, e))?;
    let url = request.url.clone().unwrap_or_else(|| release.url.to_string());

    // The downloaded files, deleted once installed (or once found bad).
    let mut fetched = Vec::new();
    let mut candidates = Vec::new();
    match release.layout {
        Layout::Tar => {
            let name = url.rsplit('/').next().filter(|n| !n.is_empty()).unwrap_or(release.name);
            let archive = downloads.join(name);
            fetch(&url, &archive, &request.options, on_event)?;
            if let Err(message) = extract(&archive, staging.path()) {
                let _ = fs::remove_file(&archive);
                return Err(WeightsError::Rejected { file: name.to_string(), message });
            }
            fetched.push(archive.clone());
            for entry in fs::read_dir(staging.path()).map_err(|e| directory_error(dir, e))? {
                let file = entry.map_err(|e| directory_error(dir, e))?.file_name();
                let file = file.to_string_lossy().into_owned();
                if Release::is_parameter_file(&file) {
                    let path = staging.path().join(&file);
                    let download = archive.clone();
                    candidates.push(Candidate { file, path, url: url.clone(), download });
                }
            }
            candidates.sort_by(|a, b| a.file.cmp(&b.file));
            if candidates.is_empty() {
                let _ = fs::remove_file(&fetched[0]);
                return Err(WeightsError::Rejected {
                    file: name.to_string(),
                    message: "the archive holds no parameter files (.npz, .pt)".into(),
                });
            }
        }
        Layout::Files(files) => {
            let base = if url.ends_with('/') { url.clone() } else { format!("{url}/") };
            for (file, _) in files {
                let file_url = format!("{base}{file}");
                let path = downloads.join(file);
                fetch(&file_url, &path, &request.options, on_event)?;
                fetched.push(path.clone());
                let download = path.clone();
                candidates.push(Candidate {
                    file: file.to_string(),
                    path,
                    url: file_url,
                    download,
                });
            }
        }
    }

    let mut models = Vec::new();
    for candidate in &candidates {
        let preset = request.preset.clone().or_else(|| release.preset_of(&candidate.file));
        on_event(DownloadEvent::Checking { file: candidate.file.clone() });
        let rejected = |message: String| {
            // A bad download is not kept for the next run to reuse.
            let _ = fs::remove_file(&candidate.download);
            WeightsError::Rejected { file: candidate.file.clone(), message }
        };
        let parameters = check_parameters(&candidate.path, preset.as_deref())
            // Named by the release's file name, not the staging path.
            .map_err(|e| {
                rejected(flat(&e).replace(&format!("{}: ", candidate.path.display()), ""))
            })?;
        let (bytes, sha256) = file_digest(&candidate.path).map_err(|e| rejected(e.to_string()))?;
        models.push(InstalledModel {
            name: release.model_name(&candidate.file),
            release: release.name.to_string(),
            file: format!("{}/{}", release.name, candidate.file),
            preset,
            bytes,
            sha256,
            parameters,
            url: candidate.url.clone(),
        });
    }

    // Files fetched one by one join the staging directory only now, all checked.
    for candidate in &candidates {
        let staged = staging.path().join(&candidate.file);
        if candidate.path != staged {
            fs::rename(&candidate.path, &staged).map_err(|e| directory_error(&staged, e))?;
        }
    }
    let target = dir.join(release.name);
    let previous = dir.join(format!(".previous-{}", release.name));
    if target.exists() {
        let _ = fs::remove_dir_all(&previous);
        fs::rename(&target, &previous).map_err(|e| directory_error(&target, e))?;
    }
    let staged = staging.keep();
    fs::rename(&staged, &target).map_err(|e| directory_error(&target, e))?;

    let mut manifest = Manifest::read(dir)?;
    manifest.models.retain(|m| m.release != release.name);
    manifest.models.extend(models.iter().cloned());
    manifest.licenses.insert(release.name.to_string(), release.license.to_string());
    manifest.write(dir)?;

    let _ = fs::remove_dir_all(&previous);
    for path in &fetched {
        let _ = fs::remove_file(path);
    }
    let _ = fs::remove_dir(&downloads);
    Ok(models)
}

/// Unpacks the regular files of a tar archive into `into`, flat (a member's directories are
/// dropped, so no name can point outside `into`).
fn extract(archive: &Path, into: &Path) -> Result<(), String> {
    let file = File::open(archive).map_err(|e| e.to_string())?;
    let mut tar = tar::Archive::new(file);
    let mut count = 0;
    for entry in tar.entries().map_err(|e| format!("not a tar archive: {e}"))? {
        let mut entry = entry.map_err(|e| format!("a broken tar archive: {e}"))?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(|e| format!("a broken tar archive: {e}"))?;
        let Some(name) = path.file_name().map(|n| n.to_owned()) else { continue };
        entry.unpack(into.join(&name)).map_err(|e| format!("a broken tar archive: {e}"))?;
        count += 1;
    }
    if count == 0 {
        return Err("not a tar archive, or an empty one".into());
    }
    Ok(())
}
