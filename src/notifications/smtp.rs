//! SMTP connections kept open across messages, with `TCP_NODELAY`.
//!
//! lettre's own pooled transport opens its sockets itself and leaves Nagle's algorithm on.
//! Its client writes a message's body and then the closing `.` in two writes; the second one
//! then waits for the server's delayed ACK of the first (about 40 ms on Linux), which capped
//! delivery near 20 messages a second whatever the server could take. Here the service opens
//! the TCP connection itself, turns Nagle off, and hands the socket to lettre's SMTP client
//! ([`AsyncSmtpConnection`]) for the protocol: greeting, EHLO, STARTTLS or implicit TLS,
//! AUTH, MAIL/RCPT/DATA.
//!
//! At most `mail.smtp.pool_size` connections are open or in use at once; a connection goes
//! back to the idle list after each message it delivered (lettre's client ends the session
//! on any refusal) and is reused by the next one. An idle connection is checked with
//! `NOOP` before reuse once it has rested [`CHECK_AFTER`], and closed after [`IDLE_MAX`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
#[allow(deprecated)]
use lettre::transport::smtp::client::AsyncNetworkStream;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio_util::compat::{Compat, FuturesAsyncReadCompatExt};

use super::transport::SendError;
use crate::config::{SmtpSettings, SmtpTls};

/// An idle connection is checked with `NOOP` before reuse after resting this long.
pub const CHECK_AFTER: Duration = Duration::from_secs(5);
/// An idle connection is closed after resting this long (servers drop idle sessions).
pub const IDLE_MAX: Duration = Duration::from_secs(60);

struct Idle {
    conn: AsyncSmtpConnection,
    since: Instant,
}

/// A bounded set of SMTP sessions to the configured server.
pub struct SmtpPool {
    settings: SmtpSettings,
    hello: ClientId,
    idle: Mutex<Vec<Idle>>,
    slots: Semaphore,
    timeout: Duration,
}

impl std::fmt::Debug for SmtpPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpPool")
            .field("host", &self.settings.host)
            .field("port", &self.settings.port)
            .field("pool_size", &self.settings.pool_size)
            .finish()
    }
}

fn transient(message: String) -> SendError {
    SendError {
        permanent: false,
        message,
    }
}

fn smtp_error(e: &lettre::transport::smtp::Error) -> SendError {
    use std::error::Error;
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    SendError {
        permanent: e.is_permanent(),
        message: text,
    }
}

impl SmtpPool {
    /// A pool for `[mail.smtp]`; opens nothing until the first message. Fails when the TLS
    /// configuration (root certificates) cannot be built.
    pub fn new(settings: &SmtpSettings) -> Result<Self, String> {
        if settings.tls != SmtpTls::None {
            TlsParameters::new(settings.host.clone())
                .map_err(|e| format!("mail.smtp.host {:?}: {e}", settings.host))?;
        }
        let size = usize::try_from(settings.pool_size.max(1)).unwrap_or(1);
        Ok(Self {
            settings: settings.clone(),
            hello: ClientId::default(),
            idle: Mutex::new(Vec::new()),
            slots: Semaphore::new(size),
            timeout: Duration::from_secs(settings.timeout_secs.max(1)),
        })
    }

    /// Sessions currently idle (open and unused).
    pub fn idle_count(&self) -> usize {
        self.idle.lock().map(|v| v.len()).unwrap_or(0)
    }

    fn take_idle(&self) -> Option<Idle> {
        self.idle.lock().ok()?.pop()
    }

    fn put_back(&self, conn: AsyncSmtpConnection) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.push(Idle {
                conn,
                since: Instant::now(),
            });
        }
    }

    /// A session ready for MAIL FROM: an idle one still alive, or a new one.
    async fn session(&self) -> Result<AsyncSmtpConnection, SendError> {
        while let Some(mut idle) = self.take_idle() {
            let rested = idle.since.elapsed();
            if rested >= IDLE_MAX {
                // Closed without waiting for the server's goodbye.
                drop(idle);
                continue;
            }
            if rested < CHECK_AFTER
                || tokio::time::timeout(self.timeout, idle.conn.test_connected())
                    .await
                    .unwrap_or(false)
            {
                return Ok(idle.conn);
            }
        }
        match tokio::time::timeout(self.timeout, self.connect()).await {
            Ok(result) => result,
            Err(_) => Err(transient(format!(
                "connection to {}:{} timed out after {:?}",
                self.settings.host, self.settings.port, self.timeout
            ))),
        }
    }

    async fn connect(&self) -> Result<AsyncSmtpConnection, SendError> {
        let s = &self.settings;
        let tcp = open_tcp(&s.host, s.port).await?;
        let tls = || TlsParameters::new(s.host.clone()).map_err(|e| smtp_error(&e));
        let mut conn = match s.tls {
            SmtpTls::None | SmtpTls::Starttls => {
                AsyncSmtpConnection::connect_with_transport(Box::new(tcp), &self.hello)
                    .await
                    .map_err(|e| smtp_error(&e))?
            }
            SmtpTls::Tls => {
                #[allow(deprecated)]
                let mut stream = AsyncNetworkStream::use_existing_tokio1(Box::new(tcp));
                stream
                    .upgrade_tls(tls()?)
                    .await
                    .map_err(|e| smtp_error(&e))?;
                AsyncSmtpConnection::connect_with_transport(
                    Box::new(Encrypted(stream.compat())),
                    &self.hello,
                )
                .await
                .map_err(|e| smtp_error(&e))?
            }
        };
        if s.tls == SmtpTls::Starttls {
            conn.starttls(tls()?, &self.hello)
                .await
                .map_err(|e| smtp_error(&e))?;
        }
        if !s.username.is_empty() {
            let credentials = Credentials::new(s.username.clone(), s.password.clone());
            conn.auth(&[Mechanism::Plain, Mechanism::Login], &credentials)
                .await
                .map_err(|e| smtp_error(&e))?;
        }
        Ok(conn)
    }

    /// Delivers one formatted message on a pooled session. Waits for a free slot when
    /// `pool_size` sessions are busy.
    pub async fn send(&self, envelope: &Envelope, raw: &[u8]) -> Result<(), SendError> {
        let _slot = self
            .slots
            .acquire()
            .await
            .map_err(|_| transient("the SMTP pool is closed".into()))?;
        let mut conn = self.session().await?;
        match tokio::time::timeout(self.timeout, conn.send(envelope, raw)).await {
            Ok(Ok(_)) => {
                self.put_back(conn);
                Ok(())
            }
            Ok(Err(e)) => {
                // lettre aborts the session on a refusal; keep it only if it says otherwise.
                if !conn.has_broken() {
                    self.put_back(conn);
                }
                Err(smtp_error(&e))
            }
            Err(_) => Err(transient(format!(
                "the SMTP server did not answer within {:?}",
                self.timeout
            ))),
        }
    }
}

/// A TCP connection to `host:port` with Nagle's algorithm off: small writes (the closing `.`
/// of a message) leave at once instead of waiting for the ACK of the previous one.
async fn open_tcp(host: &str, port: u16) -> Result<TcpStream, SendError> {
    let tcp = TcpStream::connect((host, port))
        .await
        .map_err(|e| transient(format!("cannot connect to {host}:{port}: {e}")))?;
    tcp.set_nodelay(true)
        .map_err(|e| transient(format!("cannot set TCP_NODELAY: {e}")))?;
    Ok(tcp)
}

/// A TLS stream set up by lettre over the service's own socket, seen as a plain tokio stream
/// so lettre's client can speak SMTP over it (implicit TLS, port 465).
#[allow(deprecated)]
#[derive(Debug)]
struct Encrypted(Compat<AsyncNetworkStream>);

impl AsyncRead for Encrypted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Encrypted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for Encrypted {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().peer_addr()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_rt::test]
    async fn connections_are_opened_without_nagle() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string());
        let port = listener
            .as_ref()
            .ok()
            .and_then(|l| l.local_addr().ok())
            .map_or(0, |a| a.port());
        let tcp = open_tcp("127.0.0.1", port).await;
        assert!(tcp.is_ok_and(|t| t.nodelay().unwrap_or(false)));
        drop(listener);
    }

    #[actix_rt::test]
    async fn nothing_listening_is_a_transient_failure() {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_or(1, |a| a.port());
        let err = open_tcp("127.0.0.1", port).await.err();
        assert!(err.is_some_and(|e| !e.permanent && e.message.contains("cannot connect")));
    }
}
