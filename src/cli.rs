//! Command line: `serve`, `migrate`, `token create`.

use std::sync::Arc;

use clap::{Parser, Subcommand};

use crate::audit::Actor;
use crate::auth::store::{self as token_store, TokenSpec};
use crate::auth::Role;
use crate::clock::{Clock, SystemClock};
use crate::config::{ConfigError, Settings};
use crate::db::{self, Db, DbError};
use crate::ids::{SupplierId, TokenId};
use crate::notifications::transport::Mailer;
use crate::notifications::worker::Worker;
use crate::pagination::Page;
use crate::spelled::Spelled;
use crate::state::AppState;

/// Why a command failed; `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The configuration could not be loaded.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened, migrated or reached.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The mail transport could not be set up.
    #[error("mail transport: {0}")]
    Mail(String),
    /// The server could not start or stopped with an error.
    #[error("cannot serve on {bind}: {source}")]
    Serve {
        /// The address.
        bind: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The arguments were refused (one line per invalid field).
    #[error("{0}")]
    Invalid(String),
    /// `audit verify` found the chain broken.
    #[error("audit journal broken: {0}")]
    AuditBroken(crate::audit::domain::Broken),
}

impl From<token_store::TokenError> for CliError {
    /// A refused token command names the fields as the user typed them.
    fn from(e: token_store::TokenError) -> Self {
        match e {
            token_store::TokenError::Invalid(fields) => CliError::Invalid(
                fields
                    .iter()
                    .map(|f| format!("{} {}", f.pointer, f.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            token_store::TokenError::NotFound => CliError::Invalid("no token has this id".into()),
            token_store::TokenError::Query(q) => CliError::Db(DbError::Query(q.to_string())),
        }
    }
}

/// tenderpool: group purchasing for public bodies.
#[derive(Debug, Parser)]
#[command(name = "tenderpool", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Apply pending migrations and serve the HTTP API.
    Serve {
        /// Address to listen on, HOST:PORT (default: server.bind, 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Manage API tokens.
    Token {
        /// Token action.
        #[command(subcommand)]
        action: TokenAction,
    },
    /// Check the audit journal.
    Audit {
        /// Audit action.
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Write open data.
    Export {
        /// What to export.
        #[command(subcommand)]
        what: ExportWhat,
    },
}

/// Export subcommands.
#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// The DECP 2.0 file of every contract made since a date (Europe/Paris): one `marche` per
    /// member part, ready for data.gouv.fr.
    Decp {
        /// First day, YYYY-MM-DD (e.g. 2027-01-01 for the year's file).
        #[arg(long)]
        since: String,
        /// Day after the last one, YYYY-MM-DD (e.g. 2028-01-01); default: up to now.
        #[arg(long)]
        until: Option<String>,
        /// File to write (default: standard output).
        #[arg(long)]
        output: Option<std::path::PathBuf>,
    },
}

/// Audit subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditAction {
    /// Recompute the hash chain of every sealed event; exit 0 when intact, else name the
    /// first bad sequence number and why (edited, deleted, inserted, reordered).
    Verify,
    /// Print the latest sealed sequence number and hash (keep them somewhere else).
    Head,
}

/// Token subcommands.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Create a token and print it once, alone on the last line of stdout.
    Create {
        /// admin, lead, officer or supplier.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// Member code (lead and officer).
        #[arg(long)]
        member: Option<String>,
        /// Supplier id (supplier).
        #[arg(long)]
        supplier: Option<SupplierId>,
        /// Who holds the token.
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. `90d`, `12h`, `30m`, `2w` (default: until revoked).
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<chrono::Duration>,
    },
    /// List tokens (id, role, binding, name, expiry, revocation, last use; never a secret).
    List,
    /// Revoke a token: it gets 401 from the next request on.
    Revoke {
        /// The token's id (from `token list`).
        id: TokenId,
    },
}

/// A duration written as a whole number and a unit: `s`, `m`, `h`, `d` or `w`.
pub fn parse_duration(s: &str) -> Result<chrono::Duration, String> {
    let err = || format!("{s:?} is not a duration such as 90d, 12h, 30m or 2w");
    let unit_at = s.find(|c: char| !c.is_ascii_digit()).ok_or_else(err)?;
    let (digits, unit) = s.split_at(unit_at);
    let n: i64 = digits.parse().map_err(|_| err())?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(err()),
    };
    n.checked_mul(seconds)
        .filter(|secs| *secs > 0)
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(err)
}

fn parse_role(s: &str) -> Result<Role, String> {
    Role::from_spelling(s)
        .ok_or_else(|| format!("unknown role {s:?}: use admin, lead, officer or supplier"))
}

/// Logs on stderr, as text or one JSON object per line; `RUST_LOG` filters (default `info`).
fn init_logging(format: crate::config::LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        crate::config::LogFormat::Text => builder.try_init(),
        crate::config::LogFormat::Json => builder.json().with_current_span(true).try_init(),
    };
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> Result<(), CliError> {
    let settings = Settings::load()?;
    init_logging(settings.log.format);
    let db = Db::open(&settings.database)?;
    let applied = db.migrate()?;
    if !applied.is_empty() {
        tracing::info!(?applied, "migrations applied");
    }
    match cli.command {
        Command::Migrate => {
            println!(
                "{} migration(s) applied; the database is up to date",
                applied.len()
            );
            Ok(())
        }
        Command::Serve { bind } => {
            let bind = bind.unwrap_or_else(|| settings.server.bind.clone());
            let settings = Arc::new(settings);
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            actix_web::rt::System::new().block_on(async move {
                let mailer = Mailer::from_settings(&settings.mail).map_err(CliError::Mail)?;
                let worker = Worker::named(
                    db.clone(),
                    clock.clone(),
                    mailer,
                    settings.clone(),
                    worker_name(&settings.outbox.worker_name),
                );
                let state = AppState::new(db, clock, settings);
                let (stop, stopped) = tokio::sync::watch::channel(false);
                let worker = actix_web::rt::spawn(worker.run(stopped));
                // Returns once SIGTERM/SIGINT has stopped the HTTP server gracefully; then the
                // worker finishes the message in flight and gives its other claims back.
                let served = crate::server::serve(state, &bind).await;
                let _ = stop.send(true);
                let _ = worker.await;
                served.map_err(|source| CliError::Serve { bind, source })
            })
        }
        Command::Token {
            action:
                TokenAction::Create {
                    role,
                    member,
                    supplier,
                    name,
                    expires_in,
                },
        } => {
            let now = SystemClock.now();
            let expires_at = match expires_in {
                None => None,
                Some(d) => {
                    let t = now
                        .checked_add_signed(d)
                        .ok_or_else(|| CliError::Invalid("--expires-in is too long".into()))?;
                    crate::dates::check_future(t, now, settings.limits.max_years_ahead)
                        .map_err(|m| CliError::Invalid(format!("--expires-in: the expiry {m}")))?;
                    Some(t)
                }
            };
            let spec = TokenSpec {
                role,
                member_code: member,
                supplier_id: supplier,
                name,
                expires_at,
            };
            let mut conn = db.conn()?;
            let created = db::write_tx(&mut conn, |c| {
                token_store::create(c, &Actor::cli(), &spec, SystemClock.now())
            })?;
            println!(
                "Created {} token {} ({}). It is shown only this once:",
                spec.role.spelling(),
                created.id,
                spec.name
            );
            println!("{}", created.token);
            Ok(())
        }
        Command::Export {
            what:
                ExportWhat::Decp {
                    since,
                    until,
                    output,
                },
        } => {
            let midnight = |flag: &str, raw: &str| {
                chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
                    .ok()
                    .filter(|d| raw.len() == 10 && crate::dates::date_in_range(*d))
                    .and_then(crate::dates::paris_midnight)
                    .ok_or_else(|| {
                        CliError::Invalid(format!(
                            "{flag} {raw:?}: must be a date YYYY-MM-DD in the years 2000 to 2199"
                        ))
                    })
            };
            let start = midnight("--since", &since)?;
            let end = until
                .as_deref()
                .map(|u| midnight("--until", u))
                .transpose()?;
            let mut conn = db.conn()?;
            let now = chrono::Utc::now();
            // One transaction: a contract made meanwhile is in the file whole, or not at all.
            let text = diesel::Connection::transaction(&mut **conn, |c| {
                crate::exports::store::decp_between(c, start, end, now)
            })
            .map_err(|e: crate::error::ApiError| CliError::Db(DbError::Query(e.detail)))?;
            match output {
                Some(path) => std::fs::write(&path, text.as_bytes()).map_err(|e| {
                    CliError::Invalid(format!("cannot write {}: {e}", path.display()))
                })?,
                None => println!("{text}"),
            }
            Ok(())
        }
        Command::Audit {
            action: AuditAction::Head,
        } => {
            let mut conn = db.conn()?;
            let head = crate::audit::store::head(&mut conn)
                .map_err(|e| CliError::Db(DbError::Query(e.to_string())))?;
            println!("seq {}", head.seq);
            println!("hash {}", head.hash);
            println!("unsealed {}", head.unsealed);
            Ok(())
        }
        Command::Audit {
            action: AuditAction::Verify,
        } => {
            let mut conn = db.conn()?;
            match crate::audit::store::verify(&mut conn)
                .map_err(|e| CliError::Db(DbError::Query(e.to_string())))?
            {
                Ok(head) => {
                    println!(
                        "audit journal intact: {} sealed events, head {} ({} not sealed yet)",
                        head.seq, head.hash, head.unsealed
                    );
                    Ok(())
                }
                Err(broken) => Err(CliError::AuditBroken(broken)),
            }
        }
        Command::Token {
            action: TokenAction::List,
        } => {
            let mut conn = db.conn()?;
            let mut page = Page {
                limit: crate::pagination::MAX_LIMIT,
                after: None,
            };
            println!("ID\tROLE\tBOUND TO\tNAME\tCREATED\tEXPIRES\tREVOKED\tLAST USED");
            loop {
                let mut rows = token_store::list(&mut conn, page)?;
                let next = page.split(&mut rows, |t| t.id);
                for t in &rows {
                    let bound = t
                        .member_id
                        .map(|m| format!("member {m}"))
                        .or(t.supplier_id.map(|s| format!("supplier {s}")))
                        .unwrap_or_else(|| "-".into());
                    let when = |t: Option<chrono::DateTime<chrono::Utc>>| {
                        t.map_or_else(|| "-".to_owned(), |t| t.to_rfc3339())
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        t.id,
                        t.role.spelling(),
                        bound,
                        t.name,
                        t.created_at.to_rfc3339(),
                        when(t.expires_at),
                        when(t.revoked_at),
                        when(t.last_used_at)
                    );
                }
                match next {
                    Some(next) => page = next,
                    None => return Ok(()),
                }
            }
        }
        Command::Token {
            action: TokenAction::Revoke { id },
        } => {
            let mut conn = db.conn()?;
            let now = SystemClock.now();
            let info = db::write_tx(&mut conn, |c| {
                token_store::revoke(c, &Actor::cli(), id, now)
            })?;
            println!(
                "Token {} ({}) is revoked since {}.",
                info.id,
                info.name,
                info.revoked_at
                    .map_or_else(|| now.to_rfc3339(), |t| t.to_rfc3339())
            );
            Ok(())
        }
    }
}

/// The outbox worker's name: `outbox.worker_name`, or the host name when empty.
fn worker_name(configured: &str) -> String {
    if !configured.is_empty() {
        return configured.to_owned();
    }
    hostname::get()
        .ok()
        .and_then(|h| h.into_string().ok())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "tenderpool".to_owned())
}
