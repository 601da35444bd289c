//! Resumable HTTP downloads (ureq over rustls: no OpenSSL on the machine): the bytes go to
//! `<file>.part`, a later run asks for the rest with a range request, and the file gets its
//! final name only once complete.

use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{Result, WeightsError};
use crate::http;

/// How patient a download is.
#[derive(Debug, Clone, Copy)]
pub struct DownloadOptions {
    pub connect_timeout: Duration,
    /// How long the server may send nothing before the download stops (the bytes so far kept).
    pub read_timeout: Duration,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        Self { connect_timeout: Duration::from_secs(30), read_timeout: Duration::from_secs(60) }
    }
}

/// What a download and its install report as they go.
#[derive(Debug, Clone, PartialEq)]
pub enum DownloadEvent {
    /// `total`: the whole file's size where the server says it; `resumed_from`: bytes an
    /// earlier run already had.
    Started {
        file: String,
        total: Option<u64>,
        resumed_from: u64,
    },
    /// `bytes` more arrived.
    Progress {
        bytes: u64,
    },
    Finished {
        file: String,
    },
    /// A parameter file is being loaded into its network (seconds for a full-size model).
    Checking {
        file: String,
    },
}

fn part_path(dest: &Path) -> PathBuf {
    let mut name = dest.file_name().unwrap_or_default().to_os_string();
    name.push(".part");
    dest.with_file_name(name)
}

/// Downloads `url` to `dest`, continuing an earlier run's `dest.part` where the server allows
/// range requests (else starting over). An existing `dest` is taken as complete.
pub fn fetch(
    url: &str,
    dest: &Path,
    options: &DownloadOptions,
    on_event: &mut dyn FnMut(DownloadEvent),
) -> Result<()> {
    if dest.is_file() {
        return Ok(());
    }
    let part = part_path(dest);
    let file_name = dest.file_name().unwrap_or_default().to_string_lossy().into_owned();
    let io_error = |path: &Path, e: std::io::Error| WeightsError::Directory {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let have = fs::metadata(&part).map_or(0, |m| m.len());
    let agent = http::agent(options.connect_timeout, options.read_timeout);
    let mut request = agent.get(url);
    if have > 0 {
        request = request.set("Range", &format!("bytes={have}-"));
    }
    let response = match request.call() {
        Ok(response) => response,
        // The part is already the whole file (or the file changed): start over once.
        Err(ureq::Error::Status(416, _)) if have > 0 => {
            fs::remove_file(&part).map_err(|e| io_error(&part, e))?;
            return fetch(url, dest, options, on_event);
        }
        Err(ureq::Error::Status(status, response)) => {
            return Err(WeightsError::Status {
                url: url.to_string(),
                status,
                reason: response.status_text().to_string(),
            })
        }
        Err(ureq::Error::Transport(transport)) => {
            return Err(WeightsError::Transfer {
                url: url.to_string(),
                message: http::transport_message(&transport, options.read_timeout),
                kept: have,
            })
        }
    };
    let resumed = response.status() == 206
        && response
            .header("Content-Range")
            .is_some_and(|range| range.starts_with(&format!("bytes {have}-")));
    let start = if resumed { have } else { 0 };
    let total = match response.header("Content-Range").and_then(|r| r.rsplit_once('/')) {
        Some((_, total)) if resumed => total.parse().ok(),
        _ => {
            response.header("Content-Length").and_then(|l| l.parse::<u64>().ok()).map(|l| l + start)
        }
    };
    let mut file =
        if resumed { OpenOptions::new().append(true).open(&part) } else { File::create(&part) }
            .map_err(|e| io_error(&part, e))?;
    on_event(DownloadEvent::Started { file: file_name.clone(), total, resumed_from: start });

    let mut reader = response.into_reader();
    let mut buffer = vec![0u8; 1 << 20];
    let mut received = start;
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                file.flush().map_err(|e| io_error(&part, e))?;
                return Err(WeightsError::Transfer {
                    url: url.to_string(),
                    message: read_message(&e, options),
                    kept: received,
                });
            }
        };
        file.write_all(&buffer[..n]).map_err(|e| io_error(&part, e))?;
        received += n as u64;
        on_event(DownloadEvent::Progress { bytes: n as u64 });
    }
    file.sync_all().map_err(|e| io_error(&part, e))?;
    if let Some(total) = total.filter(|&t| t != received) {
        return Err(WeightsError::Transfer {
            url: url.to_string(),
            message: format!("the connection closed after {received} of {total} bytes"),
            kept: received,
        });
    }
    fs::rename(&part, dest).map_err(|e| io_error(dest, e))?;
    on_event(DownloadEvent::Finished { file: file_name });
    Ok(())
}

fn read_message(error: &std::io::Error, options: &DownloadOptions) -> String {
    if http::is_timeout(error.kind()) {
        http::stalled(options.read_timeout)
    } else {
        format!("the transfer broke off: {error}")
    }
}
