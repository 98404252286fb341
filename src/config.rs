//! Layered configuration: the embedded `config/default.toml`, then `config/{TENDERPOOL_ENV}.toml`
//! when `TENDERPOOL_ENV` is set, then `DATABASE_URL`, then `TENDERPOOL__SECTION__KEY`
//! environment variables. Unknown keys are refused with the key named.
//!
//! Nothing here is global: [`Settings`] is loaded once in `main` and passed down.

use std::path::{Path, PathBuf};

use figment::providers::{Format, Toml};
use figment::Figment;
use serde::Deserialize;

/// The compiled-in defaults; the same text as `config/default.toml`.
pub const DEFAULT_TOML: &str = include_str!("../config/default.toml");

/// Every setting of the service.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// HTTP server settings.
    pub server: ServerSettings,
    /// Database settings.
    pub database: DatabaseSettings,
    /// Authentication.
    pub auth: AuthSettings,
    /// Procurement procedure rules.
    pub procedures: ProceduresSettings,
    /// Evaluation and award rules.
    pub award: AwardSettings,
    /// Open-data exports.
    pub exports: ExportSettings,
    /// How e-mail leaves the service.
    pub mail: MailSettings,
    /// The outbox worker.
    pub outbox: OutboxSettings,
    /// Which notices are sent when.
    pub notifications: NotificationSettings,
    /// Ranges of accepted input.
    pub limits: LimitSettings,
    /// The audit journal.
    pub audit: AuditSettings,
    /// Who may read `/metrics`.
    pub metrics: MetricsSettings,
    /// How logs are written.
    pub log: LogSettings,
}

/// Who may read `GET /metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricsAccess {
    /// Not served (404).
    Off,
    /// An admin token is required.
    Admin,
    /// Anyone who reaches the port (put it behind a private network).
    Open,
}

/// `[metrics]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MetricsSettings {
    /// Who may read `/metrics`.
    pub access: MetricsAccess,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

/// `[log]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `text` or `json`.
    pub format: LogFormat,
}

/// `[audit]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuditSettings {
    /// Milliseconds an event waits before the worker seals it into the chain: longer than any
    /// transaction of the service may stay open, so events are sealed in the order recorded.
    pub seal_after_ms: u64,
    /// Most events sealed in one worker pass.
    pub seal_batch: u32,
}

/// `[limits]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Deadlines and expiry instants may lie at most this many years after now.
    pub max_years_ahead: u32,
}

/// Mail transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MailTransportKind {
    /// One `.eml` file per message in `mail.file_dir`.
    File,
    /// An SMTP server.
    Smtp,
    /// Kept in memory (tests).
    Memory,
}

/// TLS mode of the SMTP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (loopback relays only).
    None,
    /// Plain connection upgraded with STARTTLS (required).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[mail]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `file`, `smtp` or `memory`.
    pub transport: MailTransportKind,
    /// Sender, e.g. `tenderpool <achats@example.fr>`.
    pub from: String,
    /// Address rejection and award letters give to reply to (`Reply-To`); empty: `from`.
    pub reply_to: String,
    /// Folder of the `file` transport.
    pub file_dir: String,
    /// SMTP server.
    pub smtp: SmtpSettings,
}

/// `[mail.smtp]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Host name.
    pub host: String,
    /// Port.
    pub port: u16,
    /// TLS mode.
    pub tls: SmtpTls,
    /// User name; empty for no authentication.
    pub username: String,
    /// Password.
    pub password: String,
    /// Seconds before a connection or a message's delivery times out.
    pub timeout_secs: u64,
    /// SMTP sessions open at once (per process), kept open across messages.
    pub pool_size: u32,
}

/// Largest `auth.token_cache_ms`: a revocation elsewhere takes effect within seconds.
pub const MAX_TOKEN_CACHE_MS: u64 = 10_000;

/// `[auth]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    /// Milliseconds a token lookup is reused without the database (0: every request looks
    /// its token up). Bounds how late a revocation made elsewhere takes effect here.
    pub token_cache_ms: u64,
}

/// `[outbox]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct OutboxSettings {
    /// Milliseconds between two polls of the worker when idle.
    pub poll_ms: u64,
    /// First retry delay in milliseconds, doubled each attempt up to one hour.
    pub retry_base_ms: u64,
    /// Attempts before a message is marked `failed`.
    pub max_attempts: u32,
    /// Milliseconds a claim lasts before another worker may take the message over.
    pub lease_ms: u64,
    /// Messages claimed at once.
    pub batch_size: u32,
    /// Messages a worker sends at the same time (each on its own SMTP session).
    pub concurrency: u32,
    /// Milliseconds between two runs of the worker's housekeeping (due reminders, audit
    /// sealing); delivery passes in between only claim and send.
    pub housekeeping_ms: u64,
    /// Name of this instance's worker in its claims. A worker that starts takes back at once
    /// the claims left by a previous run under the same name (a crash), instead of waiting
    /// for their lease. Empty: the host name. Give each instance sharing a database its own.
    pub worker_name: String,
}

/// `[notifications]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct NotificationSettings {
    /// Days before a campaign's deadline when members with no submitted need get a reminder.
    pub reminder_days_before_deadline: u32,
}

/// `[exports]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ExportSettings {
    /// Prefix of the OCDS ocids (`ocds-` and the publisher's registered code).
    pub ocid_prefix: String,
    /// The service's public base URL, for the OCDS package's `uri`.
    pub public_base_url: String,
}

/// `[award]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AwardSettings {
    /// A bid this many percent (or more) below the mean of the lot's other admissible bids
    /// is flagged abnormally low (1–99).
    pub abnormally_low_mean_percent: u32,
    /// A bid this many percent (or more) below the next bid by price is flagged abnormally
    /// low (1–99).
    pub abnormally_low_next_percent: u32,
    /// Days (Europe/Paris calendar) the winner has to produce its tax and social
    /// certificates, counted from the award (1–60).
    pub certificates_days: u32,
    /// The administrative court competent for remedies, named in rejection letters.
    pub court: String,
}

impl AwardSettings {
    /// The abnormally-low thresholds as the evaluation uses them.
    pub fn abnormal_rule(&self) -> crate::evaluation::domain::AbnormalRule {
        crate::evaluation::domain::AbnormalRule {
            mean_percent: rust_decimal::Decimal::from(self.abnormally_low_mean_percent),
            next_percent: rust_decimal::Decimal::from(self.abnormally_low_next_percent),
        }
    }
}

/// `[procedures]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProceduresSettings {
    /// The dated threshold table used for procedure advice.
    pub thresholds: Vec<crate::procedures::advice::ThresholdRow>,
    /// *Procédure adaptée*.
    pub mapa: ProcedureRule,
    /// *Appel d'offres ouvert*.
    pub open_tender: ProcedureRule,
    /// No publicity nor competition.
    pub no_publicity: ProcedureRule,
}

/// The rules of one procedure.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProcedureRule {
    /// Fewest days between publication and the bid deadline (0: any future deadline).
    pub min_bid_days: u32,
}

impl ProceduresSettings {
    /// The minimum bid period of `procedure`, in days.
    pub fn min_bid_days(&self, procedure: crate::procedures::advice::Procedure) -> u32 {
        use crate::procedures::advice::Procedure;
        match procedure {
            Procedure::Mapa => self.mapa.min_bid_days,
            Procedure::OpenTender => self.open_tender.min_bid_days,
            Procedure::NoPublicity => self.no_publicity.min_bid_days,
        }
    }
}

/// `[server]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    /// `HOST:PORT` to listen on.
    pub bind: String,
    /// Largest accepted request body in bytes (413 above).
    pub body_limit_bytes: usize,
    /// Worker threads; 0 = one per core.
    pub workers: usize,
}

/// `[database]` section.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// SQLite path / `sqlite://PATH`, or `postgres://…`.
    pub url: String,
    /// Pool size; 0 = 2 × available cores.
    pub pool_max: u32,
    /// Seconds to wait for a pooled connection.
    pub pool_timeout_secs: u64,
    /// SQLite busy timeout in milliseconds (waits on other processes' writes).
    pub sqlite_busy_timeout_ms: u32,
    /// SQLite: most queued write requests committed together in one transaction (group
    /// commit, each in its own savepoint); 1 commits each alone.
    pub sqlite_write_batch: u32,
}

impl DatabaseSettings {
    /// The pool size after resolving 0 to 2 × available parallelism.
    pub fn effective_pool_max(&self) -> u32 {
        if self.pool_max > 0 {
            return self.pool_max;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        u32::try_from(cores * 2).unwrap_or(u32::MAX)
    }
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `TENDERPOOL_ENV` names a file that does not exist.
    #[error("TENDERPOOL_ENV={env} but {path} does not exist")]
    MissingEnvFile {
        /// The value of `TENDERPOOL_ENV`.
        env: String,
        /// The file looked for.
        path: PathBuf,
    },
    /// A key is unknown, has the wrong type, or a file is not valid TOML.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the settings from the process environment and the working directory.
    pub fn load() -> Result<Self, ConfigError> {
        let vars: Vec<(String, String)> = std::env::vars().collect();
        Self::load_from(Path::new("."), &vars)
    }

    /// Loads the settings as if `base_dir` were the working directory and `vars` the
    /// environment (used by tests, which must not touch the process environment).
    pub fn load_from(base_dir: &Path, vars: &[(String, String)]) -> Result<Self, ConfigError> {
        let var = |name: &str| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
        let mut figment = Figment::from(Toml::string(DEFAULT_TOML));
        if let Some(env) = var("TENDERPOOL_ENV").filter(|e| !e.is_empty()) {
            let path = base_dir.join("config").join(format!("{env}.toml"));
            if !path.is_file() {
                return Err(ConfigError::MissingEnvFile { env, path });
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        if let Some(url) = var("DATABASE_URL") {
            figment = figment.merge(("database.url", url));
        }
        // TENDERPOOL__SECTION__KEY → section.key, as text; `extract_lossy` below turns "8" or
        // "true" into a number or a boolean where the key wants one, and a numeric password
        // stays text.
        for (key, value) in vars {
            if let Some(rest) = key.strip_prefix("TENDERPOOL__") {
                let path = rest.to_ascii_lowercase().replace("__", ".");
                figment = figment.merge((path, value.clone()));
            }
        }
        let settings = figment.extract_lossy::<Settings>().map_err(|e| {
            let mut msgs = Vec::new();
            for err in e {
                let key = err.path.join(".");
                let source = err
                    .metadata
                    .as_ref()
                    .map(|m| m.name.to_string())
                    .unwrap_or_default();
                let mut text = err.kind.to_string();
                if !key.is_empty() {
                    text = format!("key `{key}`: {text}");
                }
                if !source.is_empty() {
                    text = format!("{text} (from {source})");
                }
                msgs.push(text);
            }
            ConfigError::Invalid(msgs.join("; "))
        })?;
        crate::procedures::advice::check_table(&settings.procedures.thresholds)
            .map_err(ConfigError::Invalid)?;
        settings.check().map_err(ConfigError::Invalid)?;
        Ok(settings)
    }

    /// Rules between settings that their types cannot state.
    fn check(&self) -> Result<(), String> {
        if self.auth.token_cache_ms > MAX_TOKEN_CACHE_MS {
            return Err(format!(
                "auth.token_cache_ms must be at most {MAX_TOKEN_CACHE_MS} (a revocation must take effect within seconds)"
            ));
        }
        // Each send is cut off at three quarters of the lease (so a claim always outlives the
        // sends it covers); the lease must leave room for a connection and a delivery.
        let needed = self.mail.smtp.timeout_secs.saturating_mul(2000);
        if self.outbox.lease_ms < needed {
            return Err(format!(
                "outbox.lease_ms ({}) must be at least 2 × mail.smtp.timeout_secs = {needed} ms, so a send fits in a claim",
                self.outbox.lease_ms
            ));
        }
        for (procedure, rule) in [
            ("mapa", self.procedures.mapa),
            ("open_tender", self.procedures.open_tender),
            ("no_publicity", self.procedures.no_publicity),
        ] {
            if rule.min_bid_days > 366 {
                return Err(format!(
                    "procedures.{procedure}.min_bid_days must be at most 366"
                ));
            }
        }
        for (key, v) in [
            (
                "abnormally_low_mean_percent",
                self.award.abnormally_low_mean_percent,
            ),
            (
                "abnormally_low_next_percent",
                self.award.abnormally_low_next_percent,
            ),
        ] {
            if !(1..=99).contains(&v) {
                return Err(format!("award.{key} must be between 1 and 99"));
            }
        }
        if !(1..=60).contains(&self.award.certificates_days) {
            return Err("award.certificates_days must be between 1 and 60".into());
        }
        if self.award.court.trim().is_empty() || self.award.court.chars().count() > 200 {
            return Err("award.court must name a court in 1 to 200 characters".into());
        }
        let prefix = &self.exports.ocid_prefix;
        if !prefix.starts_with("ocds-")
            || prefix.len() > 40
            || !prefix
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            return Err(
                "exports.ocid_prefix must start with \"ocds-\" and hold at most 40 letters, digits or '-'".into(),
            );
        }
        if !(self.exports.public_base_url.starts_with("http://")
            || self.exports.public_base_url.starts_with("https://"))
        {
            return Err("exports.public_base_url must be an http:// or https:// URL".into());
        }
        let name = &self.outbox.worker_name;
        if name.len() > 64
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b))
        {
            return Err(
                "outbox.worker_name must be at most 64 letters, digits, '-', '.' or '_'".into(),
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn settings_that_contradict_each_other_are_refused_at_start_up() {
        let load = |list: &[(&str, &str)]| {
            Settings::load_from(std::path::Path::new("/nonexistent"), &vars(list))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(load(&[("TENDERPOOL__AUTH__TOKEN_CACHE_MS", "20000")]).contains("token_cache_ms"));
        assert!(load(&[("TENDERPOOL__OUTBOX__LEASE_MS", "59999")]).contains("lease_ms"));
        assert!(load(&[("TENDERPOOL__OUTBOX__WORKER_NAME", "a b")]).contains("worker_name"));
        assert!(load(&[("TENDERPOOL__OUTBOX__WORKER_NAME", "nantes-1.prod")]).is_empty());
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let s = Settings::load_from(Path::new("/nonexistent"), &[]).unwrap();
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        assert_eq!(s.server.body_limit_bytes, 1_048_576);
        assert_eq!(s.limits.max_years_ahead, 10);
        assert_eq!(s.database.url, "sqlite://./data/tenderpool.db");
        assert_eq!(s.database.pool_max, 0);
        assert_eq!(s.database.sqlite_write_batch, 32);
        assert!(s.database.effective_pool_max() >= 2);
        assert_eq!(s.mail.transport, MailTransportKind::File);
        assert_eq!(s.mail.file_dir, "./data/outbox-mail");
        assert_eq!(s.outbox.poll_ms, 1000);
        assert_eq!(s.outbox.retry_base_ms, 30_000);
        assert_eq!(s.notifications.reminder_days_before_deadline, 3);
    }

    #[test]
    fn environment_overrides_file_and_database_url() {
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[
                ("DATABASE_URL", "postgres://a@b/c"),
                ("TENDERPOOL__DATABASE__POOL_MAX", "7"),
                ("TENDERPOOL__SERVER__BIND", "0.0.0.0:9000"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database.url, "postgres://a@b/c");
        assert_eq!(s.database.pool_max, 7);
        assert_eq!(s.database.effective_pool_max(), 7);
        assert_eq!(s.server.bind, "0.0.0.0:9000");
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[
                ("DATABASE_URL", "postgres://a@b/c"),
                ("TENDERPOOL__DATABASE__URL", "x.db"),
            ]),
        )
        .unwrap();
        assert_eq!(s.database.url, "x.db");
    }

    #[test]
    fn unknown_keys_are_refused_with_the_key_named() {
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[("TENDERPOOL__DATABASE__POOL_SIZE", "3")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pool_size"), "{err}");
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[("TENDERPOOL__NOPE__X", "1")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("nope"), "{err}");
    }

    #[test]
    fn env_file_is_layered_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        std::fs::write(
            dir.path().join("config/staging.toml"),
            "[server]\nbody_limit_bytes = 42\n",
        )
        .unwrap();
        let s = Settings::load_from(dir.path(), &vars(&[("TENDERPOOL_ENV", "staging")])).unwrap();
        assert_eq!(s.server.body_limit_bytes, 42);
        assert_eq!(s.server.bind, "127.0.0.1:8080");
        let err =
            Settings::load_from(dir.path(), &vars(&[("TENDERPOOL_ENV", "prod")])).unwrap_err();
        assert!(matches!(err, ConfigError::MissingEnvFile { .. }));
        std::fs::write(dir.path().join("config/bad.toml"), "[server]\nbogus = 1\n").unwrap();
        let err = Settings::load_from(dir.path(), &vars(&[("TENDERPOOL_ENV", "bad")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("bogus"), "{err}");
    }

    #[test]
    fn threshold_table_is_replaced_by_an_env_file_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("config")).unwrap();
        let row = |eu: &str| {
            format!(
                "[[procedures.thresholds]]\nnature = \"works\"\nvalid_from = \"2028-01-01\"\n\
                 no_publicity_below = \"100000\"\nmandatory_advert_from = \"90000\"\neu_threshold = \"{eu}\"\n"
            )
        };
        std::fs::write(dir.path().join("config/next.toml"), row("5600000")).unwrap();
        let s = Settings::load_from(dir.path(), &vars(&[("TENDERPOOL_ENV", "next")])).unwrap();
        assert_eq!(s.procedures.thresholds.len(), 1);
        assert_eq!(
            s.procedures.thresholds[0].eu_threshold.to_string(),
            "5600000.00"
        );
        std::fs::write(dir.path().join("config/bad.toml"), row("50000")).unwrap();
        let err = Settings::load_from(dir.path(), &vars(&[("TENDERPOOL_ENV", "bad")]))
            .unwrap_err()
            .to_string();
        assert!(err.contains("eu_threshold"), "{err}");
    }

    #[test]
    fn mail_settings_from_the_environment_keep_their_types() {
        let s = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[
                ("TENDERPOOL__MAIL__TRANSPORT", "smtp"),
                ("TENDERPOOL__MAIL__SMTP__HOST", "smtp.example.fr"),
                ("TENDERPOOL__MAIL__SMTP__PORT", "465"),
                ("TENDERPOOL__MAIL__SMTP__TLS", "tls"),
                ("TENDERPOOL__MAIL__SMTP__PASSWORD", "123456"),
                ("TENDERPOOL__OUTBOX__POLL_MS", "250"),
                ("TENDERPOOL__OUTBOX__RETRY_BASE_MS", "500"),
            ]),
        )
        .unwrap();
        assert_eq!(s.mail.transport, MailTransportKind::Smtp);
        assert_eq!(s.mail.smtp.port, 465);
        assert_eq!(s.mail.smtp.tls, SmtpTls::Tls);
        assert_eq!(s.mail.smtp.password, "123456");
        assert_eq!(s.outbox.poll_ms, 250);
        assert_eq!(s.outbox.retry_base_ms, 500);
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[("TENDERPOOL__MAIL__SMTP__TLS", "ssl3")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("tls"), "{err}");
    }

    #[test]
    fn wrong_types_are_refused() {
        let err = Settings::load_from(
            Path::new("/nonexistent"),
            &vars(&[("TENDERPOOL__DATABASE__POOL_MAX", "many")]),
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("pool_max"), "{err}");
    }
}
