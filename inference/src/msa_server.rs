//! MSAs without local databases: a client of ColabFold's MMseqs2 search API (the server
//! ColabFold uses: submit the sequence, poll the job, download the result archive), unpaired
//! alignments (UniRef30 and the environmental databases, merged as ColabFold merges them).
//!
//! Polite as ColabFold asks: one request at a time, status polled no faster than the poll
//! interval, a rate-limited submission retried after waiting, and every result cached by
//! sequence so that a rerun asks nothing.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ferrofold_features::feature_dict::write_bytes_atomically;
use sha2::{Digest, Sha256};

use crate::error::{InferenceError, Result};
use crate::http;

/// ColabFold's public server.
pub const COLABFOLD_SERVER: &str = "https://api.colabfold.com";

/// The query's name in the job: ColabFold numbers queries from 101 and the result archive's
/// alignments are headed by these numbers.
const QUERY_NAME: &str = "101";
/// The archive's unpaired alignments, in the order ColabFold merges them.
const ALIGNMENT_FILES: [&str; 2] = ["uniref.a3m", "bfd.mgnify30.metaeuk30.smag30.a3m"];
/// The largest result archive read (a deep alignment of a long chain is tens of MB).
const MAX_ARCHIVE_BYTES: u64 = 1 << 30;

/// A server speaking ColabFold's MMseqs2 API, and how patient to be with it.
#[derive(Debug, Clone)]
pub struct MsaServer {
    pub url: String,
    /// Between two status requests (and before resubmitting a rate-limited job).
    pub poll_interval: Duration,
    /// How long a job may stay queued or running before the search gives up.
    pub max_wait: Duration,
    /// How long the server may send nothing in the middle of an answer.
    pub read_timeout: Duration,
}

impl MsaServer {
    pub fn new(url: &str) -> Self {
        Self {
            url: url.trim_end_matches('/').to_string(),
            poll_interval: Duration::from_secs(5),
            max_wait: Duration::from_secs(3600),
            read_timeout: Duration::from_secs(60),
        }
    }

    fn error(&self, message: impl Into<String>) -> InferenceError {
        InferenceError::MsaServer { url: self.url.clone(), message: message.into() }
    }

    /// The alignment of `sequence` as a file `<record_dir>/msas/colabfold_mmseqs2.a3m`, from
    /// `cache_dir` when an earlier run asked the same server for the same sequence.
    pub fn alignment(
        &self,
        sequence: &str,
        cache_dir: Option<&Path>,
        record_dir: &Path,
    ) -> Result<PathBuf> {
        let key = format!("{}\n{}", self.url, sequence);
        let digest: String =
            Sha256::digest(key.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let cached = cache_dir.map(|dir| dir.join(format!("colabfold_{digest}.a3m")));
        let a3m = match cached.as_ref().and_then(|path| std::fs::read_to_string(path).ok()) {
            Some(text) => {
                tracing::info!("{}: alignment from the cache", self.url);
                text
            }
            None => {
                let text = self.search(sequence)?;
                if let Some(path) = &cached {
                    if let Some(dir) = path.parent() {
                        std::fs::create_dir_all(dir).map_err(|e| InferenceError::io(dir, e))?;
                    }
                    write_bytes_atomically(path, text.as_bytes())?;
                }
                text
            }
        };
        let msas = record_dir.join("msas");
        std::fs::create_dir_all(&msas).map_err(|e| InferenceError::io(&msas, e))?;
        let path = msas.join("colabfold_mmseqs2.a3m");
        write_bytes_atomically(&path, a3m.as_bytes())?;
        Ok(path)
    }

    /// Asks the server: submit, wait for the job, download and unpack its alignments. Returns
    /// A3M text, the query first.
    pub fn search(&self, sequence: &str) -> Result<String> {
        let agent = http::agent(Duration::from_secs(30), self.read_timeout);
        let deadline = Instant::now() + self.max_wait;
        let query = format!(">{QUERY_NAME}\n{sequence}\n");
        tracing::info!("{}: submitting the search ({} residues)", self.url, sequence.len());
        let mut ticket = loop {
            let request = agent.post(&format!("{}/ticket/msa", self.url));
            let ticket = self.answer(request.send_form(&[("q", &query), ("mode", "env")]))?;
            match ticket.status.as_str() {
                "RATELIMIT" | "UNKNOWN" => {
                    self.wait(deadline, format!("the submission still {}", ticket.status))?
                }
                _ => break ticket,
            }
        };
        let id = ticket.id.clone().unwrap_or_default();
        while matches!(ticket.status.as_str(), "PENDING" | "RUNNING" | "UNKNOWN") && !id.is_empty()
        {
            let state = format!("job {id} still queued or running (status {})", ticket.status);
            self.wait(deadline, state)?;
            ticket = self.answer(agent.get(&format!("{}/ticket/{id}", self.url)).call())?;
        }
        let job = if id.is_empty() { "the job".to_string() } else { format!("job {id}") };
        match ticket.status.as_str() {
            "COMPLETE" if !id.is_empty() => {}
            "ERROR" => {
                return Err(self.error(format!(
                    "{job} failed on the server (status ERROR; is the sequence a valid protein?)"
                )))
            }
            "MAINTENANCE" => {
                return Err(self.error("the server is down for maintenance; try later"))
            }
            "PENDING" | "RUNNING" | "COMPLETE" => {
                return Err(self.error(format!("the server gave {job} no id")))
            }
            other => return Err(self.error(format!("{job}: unexpected status {other}"))),
        }
        tracing::info!("{}: job {id} complete, downloading", self.url);
        let response = agent
            .get(&format!("{}/result/download/{id}", self.url))
            .call()
            .map_err(|e| self.request_error(e))?;
        let mut archive = Vec::new();
        response
            .into_reader()
            .take(MAX_ARCHIVE_BYTES)
            .read_to_end(&mut archive)
            .map_err(|e| self.error(format!("downloading job {id}'s result: {e}")))?;
        let files = unpack(&archive)
            .map_err(|m| self.error(format!("job {id}'s result archive is malformed: {m}")))?;
        merge_alignments(&files, sequence)
            .map_err(|m| self.error(format!("job {id}'s result archive is malformed: {m}")))
    }

    /// Sleeps one poll interval, or fails with `state` when that would pass the deadline.
    fn wait(&self, deadline: Instant, state: String) -> Result<()> {
        if Instant::now() + self.poll_interval > deadline {
            return Err(
                self.error(format!("{state} after {} s; try again later", self.max_wait.as_secs()))
            );
        }
        std::thread::sleep(self.poll_interval);
        Ok(())
    }

    fn request_error(&self, error: ureq::Error) -> InferenceError {
        match error {
            ureq::Error::Status(status, response) => {
                self.error(format!("the server answered HTTP {status} {}", response.status_text()))
            }
            ureq::Error::Transport(transport) => {
                self.error(http::transport_message(&transport, self.read_timeout))
            }
        }
    }

    /// A ticket from a submission or status request; a rate-limit status (HTTP 429) or an
    /// answer that is not JSON reads as ColabFold's client reads them (RATELIMIT, UNKNOWN).
    fn answer(&self, reply: std::result::Result<ureq::Response, ureq::Error>) -> Result<Ticket> {
        let response = match reply {
            Ok(response) => response,
            Err(ureq::Error::Status(429, _)) => return Ok(Ticket::status("RATELIMIT")),
            Err(error) => return Err(self.request_error(error)),
        };
        let text = response.into_string().map_err(|e| self.error(e.to_string()))?;
        Ok(serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|json| {
                Some(Ticket {
                    status: json.get("status")?.as_str()?.to_string(),
                    id: json.get("id").and_then(|id| id.as_str()).map(str::to_string),
                })
            })
            .unwrap_or_else(|| Ticket::status("UNKNOWN")))
    }
}

#[derive(Debug, Clone)]
struct Ticket {
    status: String,
    id: Option<String>,
}

impl Ticket {
    fn status(status: &str) -> Self {
        Self { status: status.to_string(), id: None }
    }
}

/// The alignment files of a result archive (`.tar.gz`), by name.
fn unpack(archive: &[u8]) -> std::result::Result<BTreeMap<String, String>, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(archive));
    let mut files = BTreeMap::new();
    let entries = tar.entries().map_err(|e| format!("not a .tar.gz: {e}"))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| format!("not a .tar.gz: {e}"))?;
        let path = entry.path().map_err(|e| e.to_string())?;
        let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else {
            continue;
        };
        if ALIGNMENT_FILES.contains(&name.as_str()) {
            let mut text = String::new();
            entry.read_to_string(&mut text).map_err(|e| format!("{name}: {e}"))?;
            files.insert(name, text);
        }
    }
    Ok(files)
}

/// The query's block of a ColabFold alignment file: blocks are separated by NUL bytes and each
/// starts with its query's number.
fn query_block(text: &str) -> Option<&str> {
    text.split('\0')
        .map(|block| block.trim_start_matches('\n'))
        .find(|block| block.lines().next().is_some_and(|l| l.trim() == format!(">{QUERY_NAME}")))
}

/// One A3M from the archive's alignments: UniRef's whole, then the environmental databases'
/// hits (their query row dropped), as ColabFold concatenates them.
fn merge_alignments(
    files: &BTreeMap<String, String>,
    sequence: &str,
) -> std::result::Result<String, String> {
    let uniref = files.get(ALIGNMENT_FILES[0]).ok_or(format!("no {}", ALIGNMENT_FILES[0]))?;
    let block = query_block(uniref)
        .ok_or(format!("{} has no alignment for query {QUERY_NAME}", ALIGNMENT_FILES[0]))?;
    let first_row: String = block.lines().skip(1).take_while(|l| !l.starts_with('>')).collect();
    if first_row.trim() != sequence {
        return Err(format!("{}'s query is not the sequence submitted", ALIGNMENT_FILES[0]));
    }
    let mut a3m = block.trim_end().to_string();
    a3m.push('\n');
    if let Some(block) = files.get(ALIGNMENT_FILES[1]).and_then(|text| query_block(text)) {
        // Past the query's header and sequence lines.
        let hits = block.find("\n>").map_or("", |at| &block[at + 1..]);
        if !hits.trim().is_empty() {
            a3m.push_str(hits.trim_end());
            a3m.push('\n');
        }
    }
    Ok(a3m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merging_keeps_uniref_whole_and_the_environmental_hits_once() {
        let files = BTreeMap::from([
            (ALIGNMENT_FILES[0].to_string(), ">101\nMKV\n>hit1\nMRV\n\0>102\nAAA\n\0".to_string()),
            (ALIGNMENT_FILES[1].to_string(), ">101\nMKV\n>env1\nM-V\n\0".to_string()),
        ]);
        let a3m = merge_alignments(&files, "MKV").unwrap();
        assert_eq!(a3m, ">101\nMKV\n>hit1\nMRV\n>env1\nM-V\n");
        let wrong = merge_alignments(&files, "MKVL").unwrap_err();
        assert!(wrong.contains("not the sequence submitted"), "{wrong}");
    }
}
