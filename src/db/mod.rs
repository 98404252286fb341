//! The one seam between the two database backends.
//!
//! [`DbConn`] is a diesel `MultiConnection` over PostgreSQL and SQLite, so every query in the
//! `store.rs` files is written once. What cannot be written once lives here and only here:
//! choosing the backend from the URL, per-connection SQLite settings, `BEGIN IMMEDIATE` for
//! SQLite writes, and the embedded migrations of each backend.
//!
//! Every query runs on a blocking thread ([`Db::read`], [`Db::write`]), never on the async
//! executor.

pub mod batch;
pub mod types;
pub mod writer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{self, ManageConnection, Pool};
use diesel::{Connection, ConnectionError, PgConnection, SqliteConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

use crate::config::DatabaseSettings;
use crate::error::ApiError;
use crate::ids::MailId;
use crate::notifications::domain::OutboxStatus;

/// A connection to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// PostgreSQL (production).
    Pg(PgConnection),
    /// SQLite (embedded default).
    Sqlite(SqliteConnection),
}

/// Migrations of the PostgreSQL schema.
pub const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// Migrations of the SQLite schema (same names as the PostgreSQL ones).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Which backend a URL designates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A `postgres://` or `postgresql://` URL.
    Postgres(String),
    /// A SQLite database file.
    Sqlite(PathBuf),
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no supported backend.
    #[error("database.url {0:?}: use a file path, sqlite://PATH, or postgres://USER@HOST/DB")]
    BadUrl(String),
    /// The pool could not open a first connection.
    #[error("cannot connect to the database: {0}")]
    Connect(String),
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// No pooled connection became free in time (or the database went away).
    #[error("no database connection available: {0}")]
    Pool(String),
    /// A query failed (outside a request: CLI, start-up).
    #[error("database query failed: {0}")]
    Query(String),
    /// The blocking thread running a query was cancelled.
    #[error("the database job was cancelled: {0}")]
    Cancelled(String),
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Pool(_) | DbError::Connect(_) => ApiError::unavailable(e),
            other => ApiError::internal(other),
        }
    }
}

impl Target {
    /// Picks the backend from the URL's scheme. A bare path is SQLite; anything that looks
    /// like another scheme (including a mistyped `postgres:`) is refused instead of silently
    /// creating a SQLite file of that name.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Target::Postgres(url.to_owned()));
        }
        if let Some(path) = url.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(DbError::BadUrl(url.to_owned()));
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        let looks_like_scheme = url.split_once(':').is_some_and(|(s, _)| {
            s.len() > 1 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '+')
        });
        if url.is_empty() || looks_like_scheme {
            return Err(DbError::BadUrl(url.to_owned()));
        }
        Ok(Target::Sqlite(PathBuf::from(url)))
    }
}

/// The PostgreSQL URL with `gssencmode=disable` added unless it sets `gssencmode` itself:
/// libpq otherwise tries GSSAPI encryption first, and libkrb5 can abort a multi-threaded
/// process while connections are being opened (diesel issue 3226).
pub fn without_gssapi(url: &str) -> String {
    if url.contains("gssencmode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&gssencmode=disable")
    } else {
        format!("{url}?gssencmode=disable")
    }
}

/// r2d2 manager that opens the backend chosen by [`Target`] and applies SQLite's settings.
#[derive(Debug, Clone)]
pub struct Manager {
    target: Target,
    busy_timeout_ms: u32,
}

/// A pooled connection, when it was last handed out, and whether it was found dead.
pub struct Pooled {
    conn: DbConn,
    last_out: Instant,
    dead: bool,
}

impl std::ops::Deref for Pooled {
    type Target = DbConn;
    fn deref(&self) -> &DbConn {
        &self.conn
    }
}

impl std::ops::DerefMut for Pooled {
    fn deref_mut(&mut self) -> &mut DbConn {
        &mut self.conn
    }
}

/// A pooled connection idle for longer than this is checked (`SELECT 1`) before use; one in
/// steady use is not (the check would be one more round trip per request on PostgreSQL). A
/// connection that dies while in use fails its request, and is dropped when returned (diesel
/// marks it broken).
pub const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

impl ManageConnection for Manager {
    type Connection = Pooled;
    type Error = ConnectionError;

    fn connect(&self) -> Result<Pooled, ConnectionError> {
        Ok(Pooled {
            conn: self.open()?,
            last_out: Instant::now(),
            dead: false,
        })
    }

    fn is_valid(&self, conn: &mut Pooled) -> Result<(), ConnectionError> {
        ping(conn).map_err(ConnectionError::CouldntSetupConfiguration)
    }

    fn has_broken(&self, conn: &mut Pooled) -> bool {
        conn.dead
            || std::thread::panicking()
            || <<DbConn as Connection>::TransactionManager as TransactionManager<DbConn>>::is_broken_transaction_manager(conn)
    }
}

impl Manager {
    /// Opens a connection of the backend chosen by [`Target`], with SQLite's settings.
    pub fn open(&self) -> Result<DbConn, ConnectionError> {
        match &self.target {
            Target::Postgres(url) => PgConnection::establish(&without_gssapi(url)).map(DbConn::Pg),
            Target::Sqlite(path) => {
                let path = path.to_string_lossy();
                let mut conn = SqliteConnection::establish(&path)?;
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {}; PRAGMA journal_mode = WAL; \
                     PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL; \
                     PRAGMA recursive_triggers = ON;",
                    self.busy_timeout_ms
                ))
                .map_err(ConnectionError::CouldntSetupConfiguration)?;
                Ok(DbConn::Sqlite(conn))
            }
        }
    }
}

/// One round trip that fails on a dead connection.
fn ping(conn: &mut DbConn) -> diesel::QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

/// Which backend a [`Db`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL.
    Postgres,
    /// SQLite.
    Sqlite,
}

/// The pool of connections, shared by all request handlers.
#[derive(Clone)]
pub struct Db {
    pool: Pool<Manager>,
    backend: Backend,
    timeouts: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// SQLite: the one connection that runs this process's write transactions, on its own
    /// thread, in arrival order, several per transaction when they queue up (group commit,
    /// [`writer`]). Writers never meet on SQLite's lock, whose busy handler sleeps and retries
    /// (a tail latency of about a second); the busy timeout is left for other processes (the
    /// CLI, a second instance by mistake). `None` on PostgreSQL.
    writer: Option<writer::Writer>,
}

/// What the pool holds right now (for `/metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    /// Connections open and free.
    pub idle: u32,
    /// Connections open and in use.
    pub in_use: u32,
    /// Most connections the pool opens.
    pub max: u32,
    /// Requests that found no free connection in time since start.
    pub timeouts: u64,
    /// SQLite: the writer's transactions and the write jobs they ran (`None` on PostgreSQL).
    pub writes: Option<writer::WriteStats>,
}

impl Db {
    /// Opens the pool (creating the SQLite file and its folder if needed). Does not migrate.
    pub fn open(settings: &DatabaseSettings) -> Result<Self, DbError> {
        let target = Target::parse(&settings.url)?;
        let backend = match &target {
            Target::Postgres(_) => Backend::Postgres,
            Target::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        DbError::Connect(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                Backend::Sqlite
            }
        };
        let manager = Manager {
            target,
            busy_timeout_ms: settings.sqlite_busy_timeout_ms,
        };
        // Open one connection by hand first: r2d2 would only report a timeout, this reports why.
        manager
            .open()
            .map_err(|e| DbError::Connect(e.to_string()))?;
        let batch = usize::try_from(settings.sqlite_write_batch).unwrap_or(1);
        let writer = match backend {
            Backend::Sqlite => Some(writer::Writer::start(manager.clone(), batch)?),
            Backend::Postgres => None,
        };
        let pool = Pool::builder()
            .max_size(settings.effective_pool_max())
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(settings.pool_timeout_secs.max(1)))
            // Checked in `Db::checkout` only when idle for long (CHECK_IDLE_AFTER).
            .test_on_check_out(false)
            .build(manager)
            .map_err(|e| DbError::Connect(e.to_string()))?;
        Ok(Self {
            pool,
            backend,
            timeouts: std::sync::Arc::default(),
            writer,
        })
    }

    /// What the pool holds right now.
    pub fn pool_state(&self) -> PoolState {
        let s = self.pool.state();
        PoolState {
            idle: s.idle_connections,
            in_use: s.connections.saturating_sub(s.idle_connections),
            max: self.pool.max_size(),
            timeouts: self.timeouts.load(std::sync::atomic::Ordering::Relaxed),
            writes: self.writer.as_ref().map(writer::Writer::stats),
        }
    }

    fn get(
        pool: &Pool<Manager>,
        timeouts: &std::sync::atomic::AtomicU64,
    ) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Self::checkout(pool).map_err(|e| {
            timeouts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            DbError::Pool(e.to_string())
        })
    }

    /// A connection from the pool: one idle for over [`CHECK_IDLE_AFTER`] is checked first,
    /// and a dead one is dropped for the next (after a database restart every idle connection
    /// is dead: at most the pool's size of them are tried before r2d2 opens new ones).
    fn checkout(pool: &Pool<Manager>) -> Result<r2d2::PooledConnection<Manager>, r2d2::PoolError> {
        let mut tries = pool.max_size();
        loop {
            let mut pooled = pool.get()?;
            let idle = pooled.last_out.elapsed();
            pooled.last_out = Instant::now();
            if idle <= CHECK_IDLE_AFTER || tries == 0 || ping(&mut pooled).is_ok() {
                return Ok(pooled);
            }
            pooled.dead = true;
            tries -= 1;
        }
    }

    /// The backend in use.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for synchronous code (CLI, tests, workers already off the executor).
    pub fn conn(&self) -> Result<r2d2::PooledConnection<Manager>, DbError> {
        Self::checkout(&self.pool).map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Applies the pending migrations of this backend; returns the versions applied.
    pub fn migrate(&self) -> Result<Vec<String>, DbError> {
        let mut conn = self
            .pool
            .get()
            .map_err(|e| DbError::Connect(e.to_string()))?;
        migrate(&mut conn)
    }

    /// Runs `f` on a pooled connection on a blocking thread, **without** a transaction: for a
    /// read that is one statement (a transaction would add `BEGIN` and `COMMIT`, two more
    /// round trips on PostgreSQL), or statements that cannot disagree (e.g. a row, then the
    /// immutable code of the member it names). Several statements that must see one snapshot
    /// use [`Db::read`]; changes use [`Db::write`].
    pub async fn query<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (pool, timeouts) = (self.pool.clone(), self.timeouts.clone());
        actix_web::web::block(move || {
            let mut pooled = Self::get(&pool, &timeouts)?;
            f(&mut pooled)
        })
        .await
        .map_err(|e| DbError::Cancelled(e.to_string()))?
    }

    /// Runs `f` in a read transaction on a blocking thread. `E` is the caller's error type
    /// (`ApiError` in handlers, the worker's own in the worker).
    pub async fn read<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (pool, timeouts) = (self.pool.clone(), self.timeouts.clone());
        actix_web::web::block(move || {
            let mut pooled = Self::get(&pool, &timeouts)?;
            let conn: &mut DbConn = &mut pooled;
            conn.transaction(f)
        })
        .await
        .map_err(|e| DbError::Cancelled(e.to_string()))?
    }

    /// Runs `f` in a write transaction: on PostgreSQL on a blocking thread with a pooled
    /// connection; on SQLite on the writer thread, after this process's earlier writes, in a
    /// savepoint of a `BEGIN IMMEDIATE` transaction it may share with other queued writes
    /// ([`writer`]). Either way, when the caller gets `Ok`, `f`'s changes are stored
    /// (committed; on SQLite also flushed to disk), and when `f` fails nothing of it is. On
    /// SQLite an `Ok` of `f` becomes an error when its batch fails to commit (nothing stored)
    /// or when the flush after the commit fails (outcome unknown: 500).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        if let Some(writer) = &self.writer {
            return writer.submit(f).await;
        }
        let (pool, timeouts) = (self.pool.clone(), self.timeouts.clone());
        actix_web::web::block(move || {
            let mut conn = Self::get(&pool, &timeouts)?;
            write_tx(&mut conn, f)
        })
        .await
        .map_err(|e| DbError::Cancelled(e.to_string()))?
    }

    /// Runs `f`, a write whose **only change is one statement** (typically a
    /// [`batch::Batch`] sent last, after reads): on PostgreSQL without `BEGIN` and `COMMIT`,
    /// two round trips fewer, since a statement is atomic on its own; on SQLite as
    /// [`Db::write`] (the writer's transaction costs no round trip). `f`'s reads then do not
    /// share a snapshot with its change, and nothing is locked between them: use it only
    /// where the change stays correct when ordered just after those reads (see
    /// `needs::store::create`), and never for a write of two statements.
    pub async fn write_single<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        if self.writer.is_some() {
            return self.write(f).await;
        }
        self.query(f).await
    }
}

/// Whether SQL `sum()` over exact decimals ([`types::sql::Dec`]) is exact on `conn`: on
/// PostgreSQL (`numeric`), not on SQLite (decimals are `TEXT` there, and its sums go through
/// REAL). A feature may then add up in SQL what it would otherwise add up in process.
pub fn sums_exactly(conn: &DbConn) -> bool {
    matches!(conn, DbConn::Pg(_))
}

/// Opens a write transaction: `BEGIN IMMEDIATE` on SQLite (so two writers never deadlock on
/// a lock upgrade), a plain `BEGIN` on PostgreSQL.
pub fn begin_write(conn: &mut DbConn) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Sqlite(c) => AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE"),
        DbConn::Pg(c) => AnsiTransactionManager::begin_transaction(c),
    }
}

/// Runs `f` inside a write transaction: `BEGIN IMMEDIATE` on SQLite (so two writers never
/// deadlock on a lock upgrade), a plain `BEGIN` on PostgreSQL. Commits on `Ok`, rolls back
/// on `Err`.
pub fn write_tx<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    type Tm = <DbConn as Connection>::TransactionManager;
    begin_write(conn)?;
    match f(conn) {
        Ok(value) => {
            <Tm as TransactionManager<DbConn>>::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            if let Err(rollback) = <Tm as TransactionManager<DbConn>>::rollback_transaction(conn) {
                tracing::error!(%rollback, "rollback failed; the connection will be discarded");
            }
            Err(e)
        }
    }
}

/// Locks and returns the ids of up to `limit` outbox messages that are due at `now`:
/// `sending` with an expired lease first (their worker died), then pending with
/// `next_attempt_at <= now`, oldest first. Call it inside [`write_tx`]; the caller then marks
/// them claimed in the same transaction. Two statements, each an index range scan on
/// `outbox_due (status, next_attempt_at, id)` with its limit, so a backlog of any size costs
/// the same per claim.
///
/// PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers get disjoint rows without
/// waiting. SQLite: the `BEGIN IMMEDIATE` of [`write_tx`] already serialises writers. This is
/// the one place where the two backends lock differently.
pub fn lock_due_outbox(
    conn: &mut DbConn,
    now: chrono::DateTime<chrono::Utc>,
    limit: i64,
) -> diesel::QueryResult<Vec<MailId>> {
    use crate::schema::outbox;
    use diesel::prelude::*;
    use types::DbTime;

    let now = DbTime::new(now);
    let expired = outbox::table
        .filter(outbox::status.eq(OutboxStatus::Sending))
        .filter(outbox::claimed_until.le(now))
        .order((
            outbox::status.asc(),
            outbox::next_attempt_at.asc(),
            outbox::id.asc(),
        ))
        .limit(limit)
        .select(outbox::id);
    let mut ids: Vec<MailId> = match conn {
        DbConn::Pg(c) => expired.for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => expired.load(c)?,
    };
    let left = limit - i64::try_from(ids.len()).unwrap_or(limit);
    if left <= 0 {
        return Ok(ids);
    }
    let pending = outbox::table
        .filter(outbox::status.eq(OutboxStatus::Pending))
        .filter(outbox::next_attempt_at.le(now))
        .order((
            outbox::status.asc(),
            outbox::next_attempt_at.asc(),
            outbox::id.asc(),
        ))
        .limit(left)
        .select(outbox::id);
    let more: Vec<MailId> = match conn {
        DbConn::Pg(c) => pending.for_update().skip_locked().load(c)?,
        DbConn::Sqlite(c) => pending.load(c)?,
    };
    ids.extend(more);
    Ok(ids)
}

/// How a transaction holds a row until it ends, for the features' `hold` functions
/// (PostgreSQL `FOR SHARE` / `FOR UPDATE` through [`lock_on_postgres`]; SQLite writers take
/// turns anyway).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Many holders at once; waits for an exclusive holder.
    Shared,
    /// One holder; waits for every other holder.
    Exclusive,
}

/// Runs `f` on PostgreSQL only, for row locks taken inside a write transaction (`FOR SHARE`,
/// `FOR UPDATE`). SQLite needs none: the `BEGIN IMMEDIATE` of [`write_tx`] already makes
/// writers take turns.
pub fn lock_on_postgres(
    conn: &mut DbConn,
    f: impl FnOnce(&mut PgConnection) -> diesel::QueryResult<()>,
) -> diesel::QueryResult<()> {
    match conn {
        DbConn::Pg(c) => f(c),
        DbConn::Sqlite(_) => Ok(()),
    }
}

/// PostgreSQL's `void`, the type of `pg_advisory_xact_lock`'s result (never read).
#[derive(diesel::sql_types::SqlType, diesel::query_builder::QueryId)]
#[diesel(postgres_type(oid = 2278, array_oid = 0))]
pub struct PgVoid;

diesel::define_sql_function! {
    /// Transaction-scoped advisory lock on a pair of 32-bit keys (a key space apart from the
    /// single 64-bit keys used elsewhere).
    fn pg_advisory_xact_lock(class: diesel::sql_types::Integer, key: diesel::sql_types::Integer) -> PgVoid;
}

/// Makes the transactions touching one logical object take turns: on PostgreSQL, holds the
/// advisory lock `(class, lock_key(parts))` until the end of the transaction (a prepared
/// statement: diesel caches it); nothing on SQLite, whose writers take turns anyway. `class`
/// keeps the features' objects apart; `parts` name the object (e.g. two ids).
pub fn hold_object(conn: &mut DbConn, class: i32, parts: &[&[u8]]) -> diesel::QueryResult<()> {
    use diesel::RunQueryDsl;
    let key = lock_key(parts);
    lock_on_postgres(conn, |pg| {
        diesel::select(pg_advisory_xact_lock(class, key))
            .execute(pg)
            .map(|_| ())
    })
}

/// The 32-bit lock key of an object named by `parts`: the first bytes of SHA-256 of the parts,
/// each preceded by its length. The same parts always give the same key, in every instance
/// and build; two objects rarely share one, and then only wait for each other.
pub fn lock_key(parts: &[&[u8]]) -> i32 {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    for part in parts {
        h.update(u64::try_from(part.len()).unwrap_or(u64::MAX).to_be_bytes());
        h.update(part);
    }
    let d = h.finalize();
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

/// How the `n`th bind parameter (from 1) is written in raw SQL on `conn`'s backend:
/// `$n` on PostgreSQL, `?n` on SQLite (each may appear several times in one statement).
pub fn placeholder(conn: &DbConn) -> fn(usize) -> String {
    match conn {
        DbConn::Pg(_) => |n| format!("${n}"),
        DbConn::Sqlite(_) => |n| format!("?{n}"),
    }
}

/// The unique constraint that `e` violated, named as PostgreSQL names it by default:
/// `{table}_{column}[_{column}…]_key` (e.g. `members_code_key`). PostgreSQL reports the name;
/// SQLite reports `UNIQUE constraint failed: members.code`, which is turned into the same
/// name. `None` for any other error.
pub fn unique_constraint(e: &diesel::result::Error) -> Option<String> {
    use diesel::result::{DatabaseErrorKind, Error};
    let Error::DatabaseError(DatabaseErrorKind::UniqueViolation, info) = e else {
        return None;
    };
    if let Some(name) = info.constraint_name() {
        return Some(name.to_owned());
    }
    let columns = info.message().strip_prefix("UNIQUE constraint failed: ")?;
    let mut table = None;
    let mut names = Vec::new();
    for part in columns.split(", ") {
        let (t, c) = part.split_once('.')?;
        table = Some(t);
        names.push(c);
    }
    Some(format!("{}_{}_key", table?, names.join("_")))
}

/// Key of the PostgreSQL advisory lock that serialises migrations of concurrent instances.
const MIGRATION_LOCK: i64 = 0x7465_6e64_6572; // "tender"

/// Applies pending migrations on `conn`'s backend.
pub fn migrate(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let err = |e: Box<dyn std::error::Error + Send + Sync>| DbError::Migration(e.to_string());
    let applied = match conn {
        DbConn::Pg(c) => {
            c.batch_execute(&format!("SELECT pg_advisory_lock({MIGRATION_LOCK})"))
                .map_err(|e| DbError::Migration(e.to_string()))?;
            let result = c
                .run_pending_migrations(PG_MIGRATIONS)
                .map(|v| v.iter().map(|m| m.to_string()).collect());
            let _ = c.batch_execute(&format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})"));
            result.map_err(err)?
        }
        DbConn::Sqlite(c) => c
            .run_pending_migrations(SQLITE_MIGRATIONS)
            .map(|v| v.iter().map(|m| m.to_string()).collect())
            .map_err(err)?,
    };
    Ok(applied)
}

/// True when every embedded migration has been applied.
pub fn is_migrated(conn: &mut DbConn) -> Result<bool, String> {
    let pending = match conn {
        DbConn::Pg(c) => c.has_pending_migration(PG_MIGRATIONS),
        DbConn::Sqlite(c) => c.has_pending_migration(SQLITE_MIGRATIONS),
    };
    pending.map(|p| !p).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        assert_eq!(
            Target::parse("postgres://u@h/db").unwrap(),
            Target::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(
            Target::parse("postgresql://u@h/db").unwrap(),
            Target::Postgres("postgresql://u@h/db".into())
        );
        assert_eq!(
            Target::parse("sqlite://./data/x.db").unwrap(),
            Target::Sqlite("./data/x.db".into())
        );
        assert_eq!(
            Target::parse("data/x.db").unwrap(),
            Target::Sqlite("data/x.db".into())
        );
        assert_eq!(
            Target::parse("/abs/x.db").unwrap(),
            Target::Sqlite("/abs/x.db".into())
        );
        for bad in ["postgres:nobody", "mysql://x", "", "sqlite://", "http://x"] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn lock_keys_depend_on_every_part_and_only_on_them() {
        let a = lock_key(&[b"0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", b"k-1"]);
        assert_eq!(
            a,
            lock_key(&[b"0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", b"k-1"])
        );
        assert_ne!(
            a,
            lock_key(&[b"0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", b"k-2"])
        );
        assert_ne!(
            a,
            lock_key(&[b"0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5d", b"k-1"])
        );
        // Lengths keep ("ab", "c") and ("a", "bc") apart.
        assert_ne!(lock_key(&[b"ab", b"c"]), lock_key(&[b"a", b"bc"]));
    }

    #[test]
    fn postgres_connections_disable_gssapi_unless_the_url_chooses() {
        assert_eq!(
            without_gssapi("postgres://u@h/db"),
            "postgres://u@h/db?gssencmode=disable"
        );
        assert_eq!(
            without_gssapi("postgres://u@h/db?sslmode=require"),
            "postgres://u@h/db?sslmode=require&gssencmode=disable"
        );
        assert_eq!(
            without_gssapi("postgres://u@h/db?gssencmode=prefer"),
            "postgres://u@h/db?gssencmode=prefer"
        );
    }
}
