//! Delivery of one message: SMTP (lettre), one `.eml` file per message, or memory (tests).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use lettre::message::{Mailbox, MultiPart};
use lettre::Message;

use super::smtp::SmtpPool;
use super::store::Claimed;
use crate::config::{MailSettings, MailTransportKind};

/// Why a delivery failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendError {
    /// True for a refusal that will not change on retry (SMTP 5xx, invalid address).
    pub permanent: bool,
    /// What happened, for the outbox's `last_error`.
    pub message: String,
}

/// A message as the memory transport keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    /// Recipient.
    pub to: String,
    /// Subject.
    pub subject: String,
    /// Message-ID.
    pub message_id: String,
    /// The whole message as it would go on the wire.
    pub raw: Vec<u8>,
}

/// The configured transport.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server.
    Smtp {
        /// Sessions kept open across messages (see [`super::smtp`]).
        pool: Arc<SmtpPool>,
        /// Sender.
        from: Mailbox,
    },
    /// One `.eml` file per message, named after the outbox id.
    File {
        /// Folder.
        dir: PathBuf,
        /// Sender.
        from: Mailbox,
    },
    /// Kept in memory.
    Memory {
        /// What was "sent".
        sent: Arc<Mutex<Vec<SentMail>>>,
        /// Sender.
        from: Mailbox,
    },
}

impl Mailer {
    /// Builds the transport from `[mail]`; connects to nothing yet.
    pub fn from_settings(s: &MailSettings) -> Result<Self, String> {
        let from: Mailbox = s
            .from
            .parse()
            .map_err(|e| format!("mail.from {:?}: {e}", s.from))?;
        Ok(match s.transport {
            MailTransportKind::File => Mailer::File {
                dir: PathBuf::from(&s.file_dir),
                from,
            },
            MailTransportKind::Memory => Mailer::Memory {
                sent: Arc::default(),
                from,
            },
            MailTransportKind::Smtp => Mailer::Smtp {
                pool: Arc::new(SmtpPool::new(&s.smtp)?),
                from,
            },
        })
    }

    /// The messages kept by the memory transport (empty for the others).
    pub fn sent(&self) -> Vec<SentMail> {
        match self {
            Mailer::Memory { sent, .. } => sent.lock().map(|v| v.clone()).unwrap_or_default(),
            _ => Vec::new(),
        }
    }

    fn from(&self) -> &Mailbox {
        match self {
            Mailer::Smtp { from, .. } | Mailer::File { from, .. } | Mailer::Memory { from, .. } => {
                from
            }
        }
    }

    fn build(&self, m: &Claimed) -> Result<Message, SendError> {
        let permanent = |message: String| SendError {
            permanent: true,
            message,
        };
        let to: Mailbox = m
            .recipient
            .parse()
            .map_err(|e| permanent(format!("invalid recipient {:?}: {e}", m.recipient)))?;
        Message::builder()
            .from(self.from().clone())
            .to(to)
            .subject(&m.subject)
            .message_id(Some(m.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                m.body_text.clone(),
                m.body_html.clone(),
            ))
            .map_err(|e| permanent(format!("cannot build the message: {e}")))
    }

    /// Delivers one claimed message.
    pub async fn send(&self, m: &Claimed) -> Result<(), SendError> {
        let message = self.build(m)?;
        match self {
            Mailer::Smtp { pool, .. } => {
                let raw = message.formatted();
                pool.send(message.envelope(), &raw).await
            }
            Mailer::File { dir, .. } => {
                let (dir, raw, id) = (dir.clone(), message.formatted(), m.id.0);
                let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
                    std::fs::create_dir_all(&dir)?;
                    let tmp = dir.join(format!(".{id}.eml.tmp"));
                    std::fs::write(&tmp, raw)?;
                    std::fs::rename(tmp, dir.join(format!("{id}.eml")))
                })
                .await;
                match written {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(SendError {
                        permanent: false,
                        message: format!("cannot write the .eml file: {e}"),
                    }),
                    Err(e) => Err(SendError {
                        permanent: false,
                        message: format!("file writer failed: {e}"),
                    }),
                }
            }
            Mailer::Memory { sent, .. } => {
                let mail = SentMail {
                    to: m.recipient.clone(),
                    subject: m.subject.clone(),
                    message_id: m.message_id.clone(),
                    raw: message.formatted(),
                };
                sent.lock()
                    .map_err(|_| SendError {
                        permanent: false,
                        message: "memory transport poisoned".into(),
                    })?
                    .push(mail);
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SmtpTls;

    fn settings(transport: MailTransportKind, tls: SmtpTls) -> MailSettings {
        let mut s = crate::config::Settings::load_from(std::path::Path::new("/nonexistent"), &[])
            .unwrap()
            .mail;
        s.transport = transport;
        s.smtp.host = "smtp.example.fr".into();
        s.smtp.tls = tls;
        s.smtp.username = "achats".into();
        s.smtp.password = "secret".into();
        s
    }

    // lettre's pooled SMTP transport must be built inside a Tokio runtime.
    #[actix_rt::test]
    async fn every_transport_and_tls_mode_builds() {
        for tls in [SmtpTls::None, SmtpTls::Starttls, SmtpTls::Tls] {
            assert!(matches!(
                Mailer::from_settings(&settings(MailTransportKind::Smtp, tls)),
                Ok(Mailer::Smtp { .. })
            ));
        }
        assert!(matches!(
            Mailer::from_settings(&settings(MailTransportKind::File, SmtpTls::None)),
            Ok(Mailer::File { .. })
        ));
        assert!(matches!(
            Mailer::from_settings(&settings(MailTransportKind::Memory, SmtpTls::None)),
            Ok(Mailer::Memory { .. })
        ));
    }

    #[test]
    fn a_bad_sender_is_refused_at_start_up() {
        let mut s = settings(MailTransportKind::File, SmtpTls::None);
        s.from = "not an address".into();
        let err = Mailer::from_settings(&s).err().unwrap_or_default();
        assert!(err.contains("mail.from"), "{err}");
    }
}
