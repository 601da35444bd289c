//! A small HTTP/1.1 server on 127.0.0.1 for the tests of everything that downloads (weights,
//! the MSA server client): no test touches the internet. Each request is answered by the
//! test's handler; a [`Reply`] can also misbehave as real servers do (close the connection
//! midway, stall, never answer).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A request as the handler sees it.
#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// The path with its query string.
    pub path: String,
    /// Header names in lowercase.
    pub headers: BTreeMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    /// The first byte a `Range: bytes=N-` header asks for.
    pub fn range_start(&self) -> Option<u64> {
        self.headers.get("range")?.strip_prefix("bytes=")?.strip_suffix('-')?.parse().ok()
    }

    /// The body's form fields (`application/x-www-form-urlencoded`), decoded.
    pub fn form(&self) -> BTreeMap<String, String> {
        String::from_utf8_lossy(&self.body)
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (decode(k), decode(v)))
            .collect()
    }
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How the server misbehaves while answering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fault {
    #[default]
    None,
    /// Sends the headers and this many bytes of the body, then closes the connection.
    CloseAfter(usize),
    /// Sends the headers and this many bytes of the body, then sends nothing (for a minute).
    StallAfter(usize),
    /// Accepts the connection and never answers.
    Silent,
}

/// The answer to one request.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub fault: Fault,
}

impl Reply {
    pub fn new(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self { status, headers: Vec::new(), body: body.into(), fault: Fault::None }
    }

    pub fn json(text: &str) -> Self {
        Self::new(200, text).header("Content-Type", "application/json")
    }

    pub fn not_found() -> Self {
        Self::new(404, "not found")
    }

    /// `bytes` as a file server sends them: the part a `Range` header asks for (206), else all.
    pub fn file(request: &Request, bytes: &[u8]) -> Self {
        match request.range_start() {
            Some(start) if (start as usize) < bytes.len() => Self::new(
                206,
                bytes[start as usize..].to_vec(),
            )
            .header("Content-Range", &format!("bytes {start}-{}/{}", bytes.len() - 1, bytes.len())),
            Some(_) => Self::new(416, Vec::new())
                .header("Content-Range", &format!("bytes */{}", bytes.len())),
            None => Self::new(200, bytes.to_vec()),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn with_fault(mut self, fault: Fault) -> Self {
        self.fault = fault;
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// The server; it runs until the test process ends.
pub struct TestServer {
    addr: SocketAddr,
    log: Arc<Mutex<Vec<Request>>>,
}

impl TestServer {
    /// Starts serving on a free port of 127.0.0.1; every request goes to `handler`.
    pub fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        let log = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let server_log = Arc::clone(&log);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let handler = Arc::clone(&handler);
                let log = Arc::clone(&server_log);
                std::thread::spawn(move || serve(stream, &*handler, &log));
            }
        });
        Self { addr, log }
    }

    /// `http://127.0.0.1:PORT/<path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("request log").clone()
    }
}

/// An address where nothing listens (connections are refused).
pub fn refused_url(path: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
    let addr = listener.local_addr().expect("local address");
    drop(listener);
    format!("http://{addr}/{path}")
}

fn serve(stream: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) {
    let Some(request) = read_request(&stream) else { return };
    log.lock().expect("request log").push(request.clone());
    let reply = handler(&request);
    let mut stream = stream;
    if reply.fault == Fault::Silent {
        std::thread::sleep(Duration::from_secs(60));
        return;
    }
    let reason = match reply.status {
        200 => "OK",
        206 => "Partial Content",
        404 => "Not Found",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    };
    let mut head = format!("HTTP/1.1 {} {reason}\r\nConnection: close\r\n", reply.status);
    head.push_str(&format!("Content-Length: {}\r\n", reply.body.len()));
    if reply.status == 200 || reply.status == 206 {
        head.push_str("Accept-Ranges: bytes\r\n");
    }
    for (name, value) in &reply.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    if stream.write_all(head.as_bytes()).is_err() {
        return;
    }
    let body = &reply.body;
    let _ = match reply.fault {
        Fault::CloseAfter(n) => stream.write_all(&body[..n.min(body.len())]),
        Fault::StallAfter(n) => {
            let _ = stream.write_all(&body[..n.min(body.len())]);
            let _ = stream.flush();
            std::thread::sleep(Duration::from_secs(60));
            Ok(())
        }
        _ => stream.write_all(body),
    };
    let _ = stream.flush();
}

fn read_request(stream: &TcpStream) -> Option<Request> {
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let method = parts.next()?.to_string();
    let path = parts.next()?.to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut header = String::new();
        reader.read_line(&mut header).ok()?;
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_lowercase(), value.trim().to_string());
        }
    }
    let length = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Request { method, path, headers, body })
}
