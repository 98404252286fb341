//! A real SMTP server for the tests (mailin-embedded on loopback, no TLS): it accepts every
//! message except for recipients containing "refuse", which get 550.

use std::io;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use mailin_embedded::{response, Handler, Response, Server};

/// A message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    /// Envelope recipients.
    pub rcpt: Vec<String>,
    /// The raw message.
    pub raw: Vec<u8>,
}

/// A message parsed back.
#[derive(Debug, Clone)]
pub struct Mail {
    pub rcpt: Vec<String>,
    /// The To header.
    pub to: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

#[derive(Clone)]
struct Collector {
    store: Arc<Mutex<Vec<Received>>>,
    sessions: Arc<AtomicUsize>,
    rcpt: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Collector {
    fn helo(&mut self, _ip: std::net::IpAddr, _domain: &str) -> Response {
        self.sessions.fetch_add(1, Ordering::SeqCst);
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        if to.contains("refuse") {
            response::NO_MAILBOX
        } else {
            response::OK
        }
    }

    fn data_start(&mut self, _domain: &str, _from: &str, _is8bit: bool, to: &[String]) -> Response {
        self.rcpt = to.to_vec();
        self.data.clear();
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let received = Received {
            rcpt: std::mem::take(&mut self.rcpt),
            raw: std::mem::take(&mut self.data),
        };
        self.store
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(received);
        response::OK
    }
}

/// A running SMTP server (it lives until the test process ends).
pub struct SmtpServer {
    pub port: u16,
    store: Arc<Mutex<Vec<Received>>>,
    sessions: Arc<AtomicUsize>,
}

/// A loopback port with nothing listening on it (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

impl SmtpServer {
    /// Starts a server on a free port.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on `port`.
    pub fn start_on(port: u16) -> Self {
        let store = Arc::new(Mutex::new(Vec::new()));
        let sessions = Arc::new(AtomicUsize::new(0));
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind SMTP port");
        let mut server = Server::new(Collector {
            store: store.clone(),
            sessions: sessions.clone(),
            rcpt: Vec::new(),
            data: Vec::new(),
        });
        server
            .with_name("smtp.test")
            // One thread per open session: workers keep theirs open across messages.
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            if let Err(e) = server.serve() {
                eprintln!("test SMTP server stopped: {e}");
            }
        });
        Self {
            port,
            store,
            sessions,
        }
    }

    /// SMTP sessions opened so far (EHLO/HELO greetings received).
    pub fn sessions(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    /// Everything received so far, parsed.
    pub fn messages(&self) -> Vec<Mail> {
        let received = self.store.lock().unwrap_or_else(|p| p.into_inner()).clone();
        received
            .into_iter()
            .map(|r| {
                let parsed = mailparse::parse_mail(&r.raw).expect("a parsable message");
                let header = |name: &str| {
                    parsed
                        .headers
                        .iter()
                        .find(|h| h.get_key().eq_ignore_ascii_case(name))
                        .map(|h| h.get_value())
                        .unwrap_or_default()
                };
                let part = |mime: &str| {
                    parsed
                        .subparts
                        .iter()
                        .find(|p| p.ctype.mimetype == mime)
                        .map(|p| p.get_body().expect("decodable body"))
                        .unwrap_or_default()
                };
                Mail {
                    rcpt: r.rcpt,
                    to: header("To"),
                    subject: header("Subject"),
                    message_id: header("Message-ID"),
                    text: part("text/plain"),
                    html: part("text/html"),
                }
            })
            .collect()
    }
}
