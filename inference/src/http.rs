//! The HTTP client of `weights download` and the MSA server: ureq over rustls (no OpenSSL on the
//! machine), one agent per task, failures told in words.

use std::io::ErrorKind;
use std::time::Duration;

/// An agent that gives up connecting after `connect` and waits at most `read` for each piece
/// of an answer.
pub(crate) fn agent(connect: Duration, read: Duration) -> ureq::Agent {
    ureq::AgentBuilder::new()
        .timeout_connect(connect)
        .timeout_read(read)
        .user_agent(concat!("ferrofold/", env!("CARGO_PKG_VERSION")))
        .build()
}

pub(crate) fn is_timeout(kind: ErrorKind) -> bool {
    matches!(kind, ErrorKind::TimedOut | ErrorKind::WouldBlock)
}

pub(crate) fn stalled(read_timeout: Duration) -> String {
    format!("the server sent nothing for {} s", read_timeout.as_secs_f64())
}

/// A connection-level failure in words: the kind, then the system's reason.
pub(crate) fn transport_message(transport: &ureq::Transport, read_timeout: Duration) -> String {
    let mut cause = std::error::Error::source(transport);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<std::io::Error>() {
            if is_timeout(io.kind()) {
                return stalled(read_timeout);
            }
            return format!("{}: {io}", transport.kind());
        }
        cause = error.source();
    }
    match transport.message() {
        Some(message) => format!("{}: {message}", transport.kind()),
        None => transport.kind().to_string(),
    }
}
