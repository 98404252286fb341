//! SQLite: the one connection that runs this process's write transactions, on its own thread,
//! with group commit.
//!
//! Request handlers hand their write job to [`Writer::submit`]; the writer thread takes the
//! jobs in arrival order. When several are waiting it runs up to `database.sqlite_write_batch`
//! of them in **one** SQLite transaction (`BEGIN IMMEDIATE … COMMIT`), each inside its own
//! savepoint:
//!
//! - a job that fails (or panics) is rolled back to its savepoint: it stores nothing, and its
//!   neighbours go on;
//! - no job learns its outcome before its batch is committed **and on disk**: a job that
//!   succeeded is answered `Ok` only once the batch committed and the syncer flushed the WAL
//!   (below), and gets an error if the commit failed (or if a later job left the transaction
//!   unusable, in which case the whole batch is rolled back);
//! - the rows a job writes together (its change, its journal event, its outbox mails) share the
//!   job's savepoint, so they commit or vanish together.
//!
//! One fsync then serves the whole batch, and writers never meet on SQLite's lock inside the
//! process: the busy timeout is left for other processes (the CLI, a second instance by
//! mistake). A batch waits for nothing: the thread takes what is queued when it starts a
//! transaction, so a lone request is committed at once.
//!
//! The fsync is not the writer's: its connection commits with `synchronous = NORMAL` (the WAL
//! is written, not flushed), and hands the committed batch to a syncer thread, which flushes
//! the WAL file once for every batch committed meanwhile and only then answers their jobs.
//! The writer runs the next batches during the flush instead of waiting for the disk. What a
//! client is told is stored is on disk, as with `synchronous = FULL`. Two differences: other
//! connections may read a commit during its flush (for a fraction of a millisecond, or during
//! a disk stall), before its author is answered, and a power loss in that window would lose
//! it (never a write already answered); and a failed flush leaves committed writes whose
//! outcome is unknown (they get 500, and the writer stops: see [`sync_when_committed`]).
//!
//! Checkpoints (copying the WAL back into the database file, two fsyncs) would otherwise run
//! inside the commit that crosses SQLite's 1 000-page mark, stalling every queued write for
//! ~200 ms on this project's benchmark machine. The writer's connection turns automatic
//! checkpoints off and a checkpointer thread, on its own connection, runs a `PASSIVE`
//! checkpoint (which never blocks the writer or the readers) at most every
//! [`CHECKPOINT_EVERY`] while writes go on. Such a checkpoint never lets the WAL be started
//! over while writes continue, so past [`WAL_REWIND_FRAMES`] the writer checkpoints once
//! itself between two batches.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};

use diesel::connection::{SimpleConnection, TransactionManager};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::Connection;

use super::{DbConn, DbError, Manager};

type Tm = <DbConn as Connection>::TransactionManager;

/// Least time between two checkpoints of the WAL while writes go on.
pub const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Why a batch did not commit, given to each job of it.
#[derive(Debug, Clone)]
pub struct Failure {
    kind: FailureKind,
    message: String,
}

#[derive(Debug, Clone, Copy)]
enum FailureKind {
    /// A database error, kept with its kind (so "database is locked" still becomes
    /// `503 database_busy`).
    Database(DatabaseErrorKind),
    /// Nothing of the job was stored and trying again may work (the writer's connection could
    /// not be opened, another write of the batch spoiled it): `503` with `Retry-After`.
    Retry,
    /// Anything else.
    Other,
}

impl Failure {
    fn of(e: &DieselError) -> Self {
        match e {
            DieselError::DatabaseError(kind, info) => Failure {
                kind: FailureKind::Database(*kind),
                message: info.message().to_owned(),
            },
            other => Failure {
                kind: FailureKind::Other,
                message: other.to_string(),
            },
        }
    }

    fn other(message: impl Into<String>) -> Self {
        Failure {
            kind: FailureKind::Other,
            message: message.into(),
        }
    }

    fn retry(message: impl Into<String>) -> Self {
        Failure {
            kind: FailureKind::Retry,
            message: message.into(),
        }
    }

    fn into_error<E: From<DbError> + From<DieselError>>(self) -> E {
        match self.kind {
            FailureKind::Database(kind) => {
                E::from(DieselError::DatabaseError(kind, Box::new(self.message)))
            }
            FailureKind::Retry => E::from(DbError::Connect(self.message)),
            FailureKind::Other => E::from(DbError::Query(self.message)),
        }
    }
}

/// A write job as the writer thread sees it: run it inside its savepoint, then tell it how the
/// batch ended.
pub trait Job: Send {
    /// Runs the job on `conn`, inside a transaction the caller opened, in a savepoint of its
    /// own. Returns whether it succeeded (its savepoint released) or not (rolled back to it).
    fn run(&mut self, conn: &mut DbConn) -> bool;
    /// Delivers the outcome: `None` when the batch committed, else why it did not.
    fn finish(self: Box<Self>, failure: Option<&Failure>);
    /// True when nobody waits for the outcome any more (the request went away while queued):
    /// such a job is not run.
    fn abandoned(&self) -> bool;
}

/// A typed job: the closure of a [`super::Db::write`] call and where its answer goes.
struct Typed<T, E, F> {
    f: Option<F>,
    result: Option<Result<T, E>>,
    reply: tokio::sync::oneshot::Sender<Result<T, E>>,
}

impl<T, E, F> Job for Typed<T, E, F>
where
    T: Send,
    E: From<DbError> + From<DieselError> + Send,
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send,
{
    fn run(&mut self, conn: &mut DbConn) -> bool {
        let Some(f) = self.f.take() else {
            return false;
        };
        // `Connection::transaction` inside an open transaction is a savepoint: released on
        // `Ok`, rolled back to on `Err`.
        let outcome = catch_unwind(AssertUnwindSafe(|| conn.transaction(f)));
        let result = match outcome {
            Ok(result) => result,
            Err(_) => {
                // The closure panicked inside its savepoint (maybe inside savepoints of its
                // own): undo them all.
                roll_back_to(conn, 1);
                tracing::error!("a write job panicked; its changes were rolled back");
                Err(E::from(DbError::Cancelled("the write job panicked".into())))
            }
        };
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, failure: Option<&Failure>) {
        let answer = match (self.result, failure) {
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(value)), None) => Ok(value),
            (_, Some(f)) => Err(f.clone().into_error()),
            (None, None) => Err(E::from(DbError::Cancelled(
                "the write job did not run".into(),
            ))),
        };
        // The request may have gone away (client closed the connection): nothing to tell.
        let _ = self.reply.send(answer);
    }

    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }
}

/// What the writer has done since start (for `/metrics`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions the writer ran (committed or not).
    pub transactions: u64,
    /// Write jobs it ran in them; `jobs / transactions` is the mean batch.
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    transactions: AtomicU64,
    jobs: AtomicU64,
}

/// The handle of the writer thread (cheap to clone; the thread ends when the last handle is
/// dropped, after the jobs already queued).
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Box<dyn Job>>,
    counters: Arc<Counters>,
}

impl Writer {
    /// Starts the writer thread on its own connection from `manager` (opened at the first
    /// batch, and again after a failure that broke it). `batch` is the most jobs one
    /// transaction runs (1: no group commit).
    pub fn start(manager: Manager, batch: usize) -> Result<Self, DbError> {
        let (queue, jobs) = mpsc::channel::<Box<dyn Job>>();
        let counters = Arc::new(Counters::default());
        let seen = counters.clone();
        let (checkpoints, due) = mpsc::sync_channel::<()>(1);
        let rewind = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let wal = Wal {
            due: checkpoints,
            rewind: rewind.clone(),
        };
        let halted = Halted::default();
        let (committed, to_sync) = mpsc::channel::<Committed>();
        let syncer_halts = halted.clone();
        std::thread::Builder::new()
            .name("sqlite-sync".into())
            .spawn(move || sync_when_committed(&to_sync, &syncer_halts))
            .map_err(|e| DbError::Connect(format!("cannot start the SQLite syncer: {e}")))?;
        let checkpointer = manager.clone();
        std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || checkpoint_when_due(&checkpointer, &due, &rewind))
            .map_err(|e| DbError::Connect(format!("cannot start the SQLite checkpointer: {e}")))?;
        std::thread::Builder::new()
            .name("sqlite-writer".into())
            .spawn(move || {
                let to_sync = ToSync { committed, halted };
                serve(&manager, &jobs, batch.max(1), &seen, &wal, &to_sync);
            })
            .map_err(|e| DbError::Connect(format!("cannot start the SQLite writer: {e}")))?;
        Ok(Writer { queue, counters })
    }

    /// Queues `f` and waits for its outcome (after the commit of its batch).
    pub async fn submit<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<DbError> + From<DieselError> + Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
    {
        let (job, answer) = typed(f);
        self.queue
            .send(job)
            .map_err(|_| E::from(DbError::Cancelled("the SQLite writer has stopped".into())))?;
        answer
            .await
            .map_err(|_| E::from(DbError::Cancelled("the SQLite writer dropped a job".into())))?
    }

    /// What the writer has done since start.
    pub fn stats(&self) -> WriteStats {
        WriteStats {
            transactions: self.counters.transactions.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
        }
    }
}

/// `f` as a job, and where its answer will arrive.
fn typed<T, E, F>(f: F) -> (Box<dyn Job>, tokio::sync::oneshot::Receiver<Result<T, E>>)
where
    T: Send + 'static,
    E: From<DbError> + From<DieselError> + Send + 'static,
    F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
{
    let (reply, answer) = tokio::sync::oneshot::channel();
    let job = Box::new(Typed {
        f: Some(f),
        result: None,
        reply,
    });
    (job, answer)
}

/// WAL frames (pages of 4 KiB) past which the writer checkpoints itself between two batches,
/// so that the WAL is rewound: only a checkpoint that finds no write since it began lets the
/// next write start the WAL file over, and the checkpointer's never do under steady writes.
pub const WAL_REWIND_FRAMES: i64 = 1000;

/// Largest size the WAL file is cut back to after it is rewound (bytes). Cutting it back
/// further costs more than the disk space: the writes after each rewind must then extend the
/// file again, and every flush of an extended file also commits its new size to the file
/// system's journal. Measured on the benchmark machine, cutting back to 16 MiB stalled the
/// writer ~25 ms at every rewind (every 500 ms under load) and halved the write rate of a
/// WAL rewritten in place.
pub const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The writer thread: one batch after another until every handle is gone.
fn serve(
    manager: &Manager,
    queue: &mpsc::Receiver<Box<dyn Job>>,
    batch: usize,
    counters: &Counters,
    wal: &Wal,
    to_sync: &ToSync,
) {
    let mut conn: Option<WriterConn> = None;
    while let Ok(first) = queue.recv() {
        let mut jobs = vec![first];
        while jobs.len() < batch {
            match queue.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        counters.transactions.fetch_add(1, Ordering::Relaxed);
        counters
            .jobs
            .fetch_add(u64::try_from(jobs.len()).unwrap_or(0), Ordering::Relaxed);
        if let Some(why) = to_sync.halted.get() {
            // The disk failed a flush: nothing more is written (see `sync_when_committed`).
            let failure = Failure::retry(why.clone());
            answer(jobs, Some(&failure));
            continue;
        }
        let WriterConn {
            conn: c,
            wal: wal_file,
        } = match opened(&mut conn, || writer_connection(manager)) {
            Ok(c) => c,
            Err(e) => {
                let failure = Failure::retry(format!("cannot open the SQLite writer: {e}"));
                answer(jobs, Some(&failure));
                continue;
            }
        };
        if wal.rewind.swap(false, Ordering::Relaxed) {
            // The only writer checkpoints: nothing is written meanwhile, so the checkpoint can
            // copy every frame and the BEGIN below starts the WAL over.
            if let Err(e) = checkpoint(c) {
                tracing::warn!(error = %e, "SQLite writer's checkpoint failed");
            }
        }
        // A panic outside the jobs (they catch their own) must not end the thread: the jobs of
        // the batch are dropped (their requests get an error) and the connection replaced.
        let reusable = match catch_unwind(AssertUnwindSafe(|| execute_batch(c, jobs))) {
            Ok(done) => {
                let reusable = done.reusable;
                match done.failure {
                    // Committed: answered once the WAL is on disk.
                    None => to_sync.send(wal_file.clone(), done.jobs),
                    Some(failure) => answer(done.jobs, Some(&failure)),
                }
                reusable
            }
            Err(_) => false,
        };
        // Full means a checkpoint is already due.
        let _ = wal.due.try_send(());
        if !reusable {
            conn = None;
        }
    }
}

/// Tells each of `jobs` how its batch ended (`None`: committed and on disk).
fn answer(jobs: impl IntoIterator<Item = Box<dyn Job>>, failure: Option<&Failure>) {
    for job in jobs {
        job.finish(failure);
    }
}

/// What the writer and the checkpointer share.
struct Wal {
    /// Writes happened: the checkpointer's turn.
    due: mpsc::SyncSender<()>,
    /// The WAL passed [`WAL_REWIND_FRAMES`]: the writer's turn to checkpoint.
    rewind: Arc<std::sync::atomic::AtomicBool>,
}

/// The thread's connection, opened with `open` if it has none (at start, or after a failure
/// dropped it).
fn opened<T>(
    slot: &mut Option<T>,
    open: impl FnOnce() -> Result<T, String>,
) -> Result<&mut T, String> {
    match slot {
        Some(c) => Ok(c),
        None => Ok(slot.insert(open()?)),
    }
}

/// The writer's connection: automatic checkpoints off (the checkpointer does them), the WAL
/// cut back to [`WAL_SIZE_LIMIT`] when rewound, savepoints' sub-journals kept in memory (they
/// spill to a temporary file past 64 KiB otherwise, created and deleted per transaction), and
/// `synchronous = NORMAL`: a commit writes the WAL without waiting for the disk, and the
/// syncer ([`sync_when_committed`]) flushes it before anyone is answered.
fn writer_connection(manager: &Manager) -> Result<WriterConn, String> {
    let mut conn = manager.open().map_err(|e| e.to_string())?;
    conn.batch_execute(&format!(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}; \
         PRAGMA temp_store = MEMORY; PRAGMA synchronous = NORMAL;"
    ))
    .map_err(|e| e.to_string())?;
    let wal = wal_of(&mut conn).map_err(|e| e.to_string())?;
    Ok(WriterConn { conn, wal })
}

/// The writer's connection and the WAL file its commits go to.
struct WriterConn {
    conn: DbConn,
    /// `None` for a database without a file (nothing to flush).
    wal: Option<Arc<PathBuf>>,
}

#[derive(diesel::QueryableByName)]
struct DatabaseFile {
    #[diesel(sql_type = diesel::sql_types::Text)]
    file: String,
}

/// The WAL file of the connection's database, named as SQLite names it: the main database
/// file's full path (as SQLite resolved it, symbolic links followed) and `-wal`.
fn wal_of(conn: &mut DbConn) -> diesel::QueryResult<Option<Arc<PathBuf>>> {
    use diesel::RunQueryDsl;
    let DbConn::Sqlite(c) = conn else {
        return Ok(None);
    };
    let main: Vec<DatabaseFile> =
        diesel::sql_query("SELECT file FROM pragma_database_list WHERE name = 'main'").load(c)?;
    Ok(main
        .into_iter()
        .map(|d| d.file)
        .find(|f| !f.is_empty())
        .map(|f| Arc::new(PathBuf::from(f + "-wal"))))
}

/// A committed batch on its way to the syncer, and the WAL file it was written to.
struct Committed {
    wal: Option<Arc<PathBuf>>,
    jobs: Vec<Box<dyn Job>>,
}

/// Set (once, for good) when a flush of the WAL failed: why writes are refused from then on.
type Halted = Arc<std::sync::OnceLock<String>>;

/// The writer's way to the syncer.
struct ToSync {
    committed: mpsc::Sender<Committed>,
    halted: Halted,
}

impl ToSync {
    /// Hands committed jobs to the syncer; should it be gone, flushes and answers them here.
    fn send(&self, wal: Option<Arc<PathBuf>>, jobs: Vec<Box<dyn Job>>) {
        if let Err(mpsc::SendError(batch)) = self.committed.send(Committed { wal, jobs }) {
            tracing::error!("the SQLite syncer has stopped; the writer flushes the WAL itself");
            let mut syncer = Syncer::default();
            let failure = syncer.flush(batch.wal.as_ref(), &self.halted).err();
            answer(batch.jobs, failure.as_ref());
        }
    }
}

/// The syncer thread: makes committed batches durable, then answers their jobs. It takes every
/// batch committed meanwhile, flushes the WAL file to disk once (`fdatasync`) and answers all
/// of them: the writer goes on with the next batches during the flush instead of waiting for
/// it. A write is answered only once its commit is on disk, as with `synchronous = FULL`.
///
/// One flush covers every commit before it (the WAL is one file, written in order; recovery
/// after a power loss keeps the longest valid prefix of it), so a batch that read what an
/// earlier one wrote is never durable without it.
///
/// If a flush fails, what reached the disk is unknown, and Linux may have dropped the pages
/// that failed (a later flush would then succeed without them): those writes get 500, their
/// outcome unknown, and the process stops writing for good (`halted`: every later write gets
/// 503 without being run) until it is restarted, as PostgreSQL stops after a failed fsync.
fn sync_when_committed(committed: &mpsc::Receiver<Committed>, halted: &Halted) {
    let mut syncer = Syncer::default();
    while let Ok(first) = committed.recv() {
        let mut batches = vec![first];
        while let Ok(more) = committed.try_recv() {
            batches.push(more);
        }
        // Normally one file; two if the writer reopened its connection meanwhile.
        let mut files: Vec<Option<Arc<PathBuf>>> = Vec::new();
        for batch in &batches {
            if !files.contains(&batch.wal) {
                files.push(batch.wal.clone());
            }
        }
        let failure = files
            .iter()
            .find_map(|wal| syncer.flush(wal.as_ref(), halted).err());
        answer(batches.into_iter().flat_map(|b| b.jobs), failure.as_ref());
    }
}

/// The WAL file as the syncer keeps it open: one descriptor for good, so that a failed
/// write-back is reported to it even if another descriptor (the checkpointer's) saw it first;
/// opened again only if the file at that path is another one (SQLite recreates the WAL after
/// every connection to the database has closed).
#[derive(Default)]
struct Syncer {
    open: Option<(Arc<PathBuf>, std::fs::File, (u64, u64))>,
}

impl Syncer {
    /// Flushes `wal` (nothing to do without a file), or says why the writes must fail.
    fn flush(&mut self, wal: Option<&Arc<PathBuf>>, halted: &Halted) -> Result<(), Failure> {
        if let Some(why) = halted.get() {
            return Err(Failure::other(why.clone()));
        }
        let Some(wal) = wal else {
            return Ok(());
        };
        self.flush_file(wal).map_err(|e| {
            tracing::error!(error = %e, file = %wal.display(), "flushing the SQLite WAL to disk failed; no more writes until restart");
            let why = format!(
                "flushing the database's WAL to disk failed ({e}): writes are refused until the \
                 service is restarted (check the disk first)"
            );
            let _ = halted.set(why.clone());
            Failure::other(format!("{why}; this write may or may not be stored"))
        })
    }

    fn flush_file(&mut self, wal: &Arc<PathBuf>) -> std::io::Result<()> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(wal.as_path())?;
        let id = (meta.dev(), meta.ino());
        let same = matches!(&self.open, Some((path, _, seen)) if path == wal && *seen == id);
        if !same {
            self.open = Some((wal.clone(), std::fs::File::open(wal.as_path())?, id));
        }
        match &self.open {
            Some((_, file, _)) => file.sync_data(),
            None => Ok(()),
        }
    }
}

/// The checkpointer thread: a `PASSIVE` checkpoint after writes, at most every
/// [`CHECKPOINT_EVERY`], until the writer is gone; asks the writer for a checkpoint of its own
/// when the WAL is past [`WAL_REWIND_FRAMES`].
fn checkpoint_when_due(
    manager: &Manager,
    due: &mpsc::Receiver<()>,
    rewind: &std::sync::atomic::AtomicBool,
) {
    let mut conn: Option<DbConn> = None;
    while due.recv().is_ok() {
        let c = match opened(&mut conn, || manager.open().map_err(|e| e.to_string())) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpointer cannot connect");
                std::thread::sleep(CHECKPOINT_EVERY);
                continue;
            }
        };
        match checkpoint(c) {
            Ok(frames) if frames > WAL_REWIND_FRAMES => rewind.store(true, Ordering::Relaxed),
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(error = %e, "SQLite checkpoint failed");
                conn = None;
            }
        }
        std::thread::sleep(CHECKPOINT_EVERY);
    }
}

#[derive(diesel::QueryableByName)]
struct CheckpointRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    log: i64,
}

/// Copies what it can of the WAL into the database file without waiting for anyone; returns
/// the WAL's size in frames (0 on PostgreSQL).
pub fn checkpoint(conn: &mut DbConn) -> diesel::QueryResult<i64> {
    use diesel::RunQueryDsl;
    match conn {
        DbConn::Sqlite(c) => diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)")
            .get_result::<CheckpointRow>(c)
            .map(|r| r.log),
        DbConn::Pg(_) => Ok(0),
    }
}

/// A batch after its transaction ended, its jobs not yet answered (a committed batch is
/// answered once the syncer flushed the WAL).
struct Executed {
    /// The batch's jobs, in order.
    jobs: Vec<Box<dyn Job>>,
    /// Why the batch did not commit; `None`: it committed.
    failure: Option<Failure>,
    /// False when the connection is no longer usable (the caller opens another).
    reusable: bool,
}

/// Runs `jobs` in one transaction, each in its own savepoint, and commits (or rolls back).
fn execute_batch(conn: &mut DbConn, jobs: Vec<Box<dyn Job>>) -> Executed {
    if let Err(e) = super::begin_write(conn) {
        // Cheap to reopen, and whatever state made BEGIN fail goes with it.
        return Executed {
            jobs,
            failure: Some(Failure::of(&e)),
            reusable: false,
        };
    }
    let mut ran: Vec<Box<dyn Job>> = Vec::with_capacity(jobs.len());
    let mut spoiled = None;
    for mut job in jobs {
        if spoiled.is_some() || job.abandoned() {
            ran.push(job);
            continue;
        }
        job.run(conn);
        ran.push(job);
        if !usable_at_depth_one(conn) {
            spoiled = Some(Failure::retry(
                "a write of the same batch left the transaction unusable; nothing was stored",
            ));
        }
    }
    let failure = match spoiled {
        Some(failure) => {
            roll_back_to(conn, 0);
            if depth(conn) != Some(0) {
                // Whatever diesel believes, end SQLite's transaction; the connection is
                // replaced anyway.
                let _ = conn.batch_execute("ROLLBACK");
            }
            Some(failure)
        }
        // diesel rolls the transaction back when the top-level COMMIT fails.
        None => <Tm as TransactionManager<DbConn>>::commit_transaction(conn)
            .err()
            .map(|e| Failure::of(&e)),
    };
    let reusable = failure.is_none() && !broken(conn) && at_depth_zero(conn);
    Executed {
        jobs: ran,
        failure,
        reusable,
    }
}

/// The open transactions' depth as diesel tracks it; `None` when its manager is in error.
fn depth(conn: &mut DbConn) -> Option<u32> {
    <Tm as TransactionManager<DbConn>>::transaction_manager_status_mut(conn)
        .transaction_depth()
        .ok()
        .map(|d| d.map_or(0, |d| d.get()))
}

/// Back in the batch's own transaction, and fit to commit: diesel marks a transaction whose
/// savepoint could not be rolled back as needing a rollback, and would treat later failures
/// to roll back as success — such a batch must not commit.
fn usable_at_depth_one(conn: &mut DbConn) -> bool {
    let status = <Tm as TransactionManager<DbConn>>::transaction_manager_status_mut(conn);
    match status.transaction_state() {
        Ok(state) => state.in_transaction.as_ref().is_some_and(|t| {
            t.transaction_depth.get() == 1 && !t.requires_rollback_maybe_up_to_top_level
        }),
        Err(_) => false,
    }
}

/// Rolls back savepoints (and at 0 the transaction) until `target` depth, stopping at the
/// first failure.
fn roll_back_to(conn: &mut DbConn, target: u32) {
    while depth(conn).is_some_and(|d| d > target) {
        if <Tm as TransactionManager<DbConn>>::rollback_transaction(conn).is_err() {
            break;
        }
    }
}

fn at_depth_zero(conn: &mut DbConn) -> bool {
    depth(conn) == Some(0)
}

fn broken(conn: &mut DbConn) -> bool {
    <Tm as TransactionManager<DbConn>>::is_broken_transaction_manager(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ApiError;
    use diesel::connection::SimpleConnection;
    use diesel::sql_types::BigInt;
    use diesel::{sql_query, QueryableByName, RunQueryDsl, SqliteConnection};

    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = BigInt)]
        id: i64,
    }

    /// Runs `jobs` as the writer does and answers each at once (no flush: these tests are
    /// about the transaction). Returns whether the connection is still usable.
    fn run_batch(conn: &mut DbConn, jobs: Vec<Box<dyn Job>>) -> bool {
        let done = execute_batch(conn, jobs);
        answer(done.jobs, done.failure.as_ref());
        done.reusable
    }

    /// A fresh database in a folder of its own (kept while the first value lives), how to
    /// open it, and a connection to it.
    fn database() -> (tempfile::TempDir, Manager, DbConn) {
        let dir = tempfile::tempdir().unwrap();
        let manager = Manager {
            target: super::super::Target::Sqlite(dir.path().join("w.db")),
            busy_timeout_ms: 1000,
        };
        let mut conn = manager.open().unwrap();
        conn.batch_execute(
            "CREATE TABLE t (id INTEGER PRIMARY KEY);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (id INTEGER PRIMARY KEY,
                 parent_id INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (dir, manager, conn)
    }

    fn ids(manager: &Manager) -> Vec<i64> {
        let DbConn::Sqlite(mut c) = manager.open().unwrap() else {
            unreachable!()
        };
        let c: &mut SqliteConnection = &mut c;
        let rows: Vec<Id> = sql_query("SELECT id FROM t ORDER BY id").load(c).unwrap();
        rows.into_iter().map(|r| r.id).collect()
    }

    fn insert(id: i64) -> impl FnOnce(&mut DbConn) -> Result<i64, ApiError> + Send + 'static {
        move |conn| {
            conn.batch_execute(&format!("INSERT INTO t (id) VALUES ({id})"))?;
            Ok(id)
        }
    }

    /// Writes row `id`, then refuses (409 `refused`).
    fn refused(id: i64) -> impl FnOnce(&mut DbConn) -> Result<i64, ApiError> + Send + 'static {
        move |conn| {
            insert(id)(conn)?;
            Err(ApiError::conflict("refused", "refused after writing"))
        }
    }

    /// Runs the syncer over `batches` until they are all answered.
    fn sync(batches: Vec<Committed>, halted: &Halted) {
        let (committed, to_sync) = mpsc::channel();
        for batch in batches {
            committed.send(batch).unwrap();
        }
        drop(committed);
        sync_when_committed(&to_sync, halted);
    }

    #[test]
    fn a_committed_write_is_answered_only_once_the_syncer_flushed_the_wal() {
        let (_dir, manager, _conn) = database();
        let WriterConn { mut conn, wal } = writer_connection(&manager).unwrap();
        let (a, mut a_answer) = typed(insert(1));
        let (b, mut b_answer) = typed(refused(2));
        let done = execute_batch(&mut conn, vec![a, b]);
        assert!(done.failure.is_none() && done.reusable);
        // Committed (another connection reads it), yet nobody has been answered.
        assert_eq!(ids(&manager), vec![1]);
        assert!(a_answer.try_recv().is_err());
        assert!(b_answer.try_recv().is_err());
        let file = wal.clone().unwrap();
        assert!(file.exists(), "{}", file.display());
        let halted = Halted::default();
        sync(
            vec![Committed {
                wal,
                jobs: done.jobs,
            }],
            &halted,
        );
        assert_eq!(a_answer.try_recv().unwrap().unwrap(), 1);
        assert_eq!(b_answer.try_recv().unwrap().unwrap_err().code, "refused");
        assert!(halted.get().is_none());
    }

    #[test]
    fn the_wal_flushed_is_the_one_sqlite_writes_even_through_a_symbolic_link() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real.db");
        let link = dir.path().join("link.db");
        std::fs::File::create(&real).unwrap();
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let manager = Manager {
            target: super::super::Target::Sqlite(link),
            busy_timeout_ms: 1000,
        };
        let WriterConn { mut conn, wal } = writer_connection(&manager).unwrap();
        conn.batch_execute("CREATE TABLE t (id INTEGER)").unwrap();
        let expected = std::fs::canonicalize(dir.path())
            .unwrap()
            .join("real.db-wal");
        assert_eq!(wal.as_deref(), Some(&expected));
        assert!(expected.exists(), "SQLite wrote elsewhere");
    }

    #[test]
    fn when_the_wal_cannot_be_flushed_the_writes_get_an_error_and_writing_stops() {
        let (dir, manager, mut conn) = database();
        let (a, mut a_answer) = typed(insert(1));
        let (b, mut b_answer) = typed(insert(2));
        let missing = Some(Arc::new(dir.path().join("missing-wal")));
        let halted = Halted::default();
        let batches = vec![
            Committed {
                wal: missing.clone(),
                jobs: execute_batch(&mut conn, vec![a]).jobs,
            },
            Committed {
                wal: missing,
                jobs: execute_batch(&mut conn, vec![b]).jobs,
            },
        ];
        sync(batches, &halted);
        for answer in [a_answer.try_recv().unwrap(), b_answer.try_recv().unwrap()] {
            let e = answer.unwrap_err();
            assert_eq!(e.status.as_u16(), 500, "{e:?}");
            assert!(
                format!("{e:?}").contains("may or may not be stored"),
                "{e:?}"
            );
        }
        assert!(halted.get().is_some());
        // From then on the writer runs nothing: 503, nothing stored.
        let (queue, jobs) = mpsc::channel();
        let (due, _checkpoints) = mpsc::sync_channel(1);
        let wal = Wal {
            due,
            rewind: Arc::default(),
        };
        let (committed, _to_sync) = mpsc::channel();
        let to_sync = ToSync { committed, halted };
        let (c, mut c_answer) = typed(insert(3));
        queue.send(c).unwrap();
        drop(queue);
        serve(&manager, &jobs, 32, &Counters::default(), &wal, &to_sync);
        let e = c_answer.try_recv().unwrap().unwrap_err();
        assert_eq!(e.status.as_u16(), 503, "{e:?}");
        assert_eq!(ids(&manager), vec![1, 2]);
    }

    #[test]
    fn the_writers_connection_leaves_the_flush_to_the_syncer() {
        let (_dir, manager, _conn) = database();
        let DbConn::Sqlite(mut c) = writer_connection(&manager).unwrap().conn else {
            unreachable!()
        };
        #[derive(QueryableByName)]
        struct Sync {
            #[diesel(sql_type = BigInt)]
            synchronous: i64,
        }
        let row: Sync = sql_query("PRAGMA synchronous").get_result(&mut c).unwrap();
        assert_eq!(row.synchronous, 1, "NORMAL");
    }

    #[test]
    fn a_refused_or_panicking_write_leaves_no_trace_while_its_neighbours_commit() {
        let (_dir, manager, mut conn) = database();
        let (a, mut a_answer) = typed(insert(1));
        let (b, mut b_answer) = typed(refused(2));
        let (c, mut c_answer) = typed(|conn: &mut DbConn| -> Result<i64, ApiError> {
            insert(3)(conn)?;
            panic!("a bug in a handler");
        });
        let (d, mut d_answer) = typed(insert(4));
        assert!(run_batch(&mut conn, vec![a, b, c, d]), "connection kept");
        assert_eq!(a_answer.try_recv().unwrap().unwrap(), 1);
        assert_eq!(b_answer.try_recv().unwrap().unwrap_err().code, "refused");
        assert_eq!(
            c_answer.try_recv().unwrap().unwrap_err().status.as_u16(),
            500
        );
        assert_eq!(d_answer.try_recv().unwrap().unwrap(), 4);
        assert_eq!(ids(&manager), [1, 4]);
    }

    #[test]
    fn a_failed_commit_answers_every_write_of_the_batch_with_an_error_and_stores_nothing() {
        let (_dir, manager, mut conn) = database();
        let (a, mut a_answer) = typed(insert(1));
        // Accepted statement by statement; the deferred foreign key fails the COMMIT.
        let (b, mut b_answer) = typed(|conn: &mut DbConn| -> Result<i64, ApiError> {
            conn.batch_execute("INSERT INTO child (id, parent_id) VALUES (1, 99)")?;
            Ok(2)
        });
        assert!(!run_batch(&mut conn, vec![a, b]), "connection replaced");
        assert!(a_answer.try_recv().unwrap().is_err());
        assert!(b_answer.try_recv().unwrap().is_err());
        assert_eq!(ids(&manager), Vec::<i64>::new());
        // A connection that is left in no transaction runs the next batch.
        let (e, mut e_answer) = typed(insert(5));
        assert!(run_batch(&mut conn, vec![e]));
        assert_eq!(e_answer.try_recv().unwrap().unwrap(), 5);
        assert_eq!(ids(&manager), [5]);
    }

    #[test]
    fn writes_queued_while_the_writer_is_busy_commit_together_in_arrival_order() {
        let (_dir, manager, conn) = database();
        drop(conn);
        let writer = Writer::start(manager.clone(), 32).unwrap();
        let (started_tx, started) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let (blocker, blocker_answer) = typed(move |conn: &mut DbConn| -> Result<i64, ApiError> {
            started_tx.send(()).unwrap();
            released.recv().unwrap();
            insert(100)(conn)
        });
        writer.queue.send(blocker).unwrap();
        started.recv().unwrap();
        // Queued while the first transaction is running: one transaction for the five.
        let mut answers = Vec::new();
        for id in 1..=5 {
            let (job, answer) = if id == 3 {
                typed(refused(id))
            } else {
                typed(insert(id))
            };
            writer.queue.send(job).unwrap();
            answers.push(answer);
        }
        release.send(()).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            assert_eq!(blocker_answer.await.unwrap().unwrap(), 100);
            let mut got = Vec::new();
            for answer in answers {
                got.push(answer.await.unwrap().map_err(|e| e.code));
            }
            assert_eq!(got, [Ok(1), Ok(2), Err("refused"), Ok(4), Ok(5)]);
        });
        assert_eq!(
            writer.stats(),
            WriteStats {
                transactions: 2,
                jobs: 6
            }
        );
        assert_eq!(ids(&manager), [1, 2, 4, 5, 100]);
    }

    #[test]
    fn a_write_that_leaves_its_savepoint_open_fails_the_batch_retryably_and_stores_nothing() {
        let (_dir, manager, mut conn) = database();
        let (a, mut a_answer) = typed(insert(1));
        let (b, mut b_answer) = typed(|conn: &mut DbConn| -> Result<i64, ApiError> {
            insert(2)(conn)?;
            <Tm as TransactionManager<DbConn>>::begin_transaction(conn)?;
            Ok(2)
        });
        let (c, mut c_answer) = typed(insert(3));
        assert!(!run_batch(&mut conn, vec![a, b, c]));
        for answer in [
            a_answer.try_recv(),
            b_answer.try_recv(),
            c_answer.try_recv(),
        ] {
            let e = answer.unwrap().unwrap_err();
            assert_eq!((e.status.as_u16(), e.code), (503, "database_unavailable"));
        }
        assert_eq!(ids(&manager), Vec::<i64>::new());
        assert_eq!(depth(&mut conn), Some(0), "the batch's transaction is over");
    }

    #[test]
    fn a_panic_inside_a_writes_own_savepoint_undoes_all_of_it_and_only_it() {
        let (_dir, manager, mut conn) = database();
        let (a, mut a_answer) = typed(insert(1));
        let (b, mut b_answer) = typed(|conn: &mut DbConn| -> Result<i64, ApiError> {
            insert(2)(conn)?;
            conn.transaction(|conn| -> Result<i64, ApiError> {
                insert(20)(conn)?;
                panic!("deep inside");
            })
        });
        let (c, mut c_answer) = typed(insert(3));
        assert!(run_batch(&mut conn, vec![a, b, c]));
        assert_eq!(a_answer.try_recv().unwrap().unwrap(), 1);
        assert_eq!(
            b_answer.try_recv().unwrap().unwrap_err().status.as_u16(),
            500
        );
        assert_eq!(c_answer.try_recv().unwrap().unwrap(), 3);
        assert_eq!(ids(&manager), [1, 3]);
    }

    #[test]
    fn a_write_whose_request_went_away_while_queued_is_not_run() {
        let (_dir, manager, mut conn) = database();
        let (a, answer) = typed(insert(1));
        drop(answer);
        let (b, mut b_answer) = typed(insert(2));
        assert!(run_batch(&mut conn, vec![a, b]));
        assert_eq!(b_answer.try_recv().unwrap().unwrap(), 2);
        assert_eq!(ids(&manager), [2]);
    }

    #[test]
    fn the_wal_is_rewound_under_steady_writes_instead_of_growing() {
        // One frame (4 KiB) per commit: 12 000 commits would leave a WAL of ~47 MiB if it
        // were never started over.
        let (dir, manager, conn) = database();
        drop(conn);
        let writer = Writer::start(manager.clone(), 1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut largest = 0;
        rt.block_on(async {
            for i in 0..12_000 {
                writer.submit(insert(i)).await.unwrap();
                if i % 500 == 0 {
                    let wal = dir.path().join("w.db-wal");
                    largest = largest.max(std::fs::metadata(&wal).map_or(0, |m| m.len()));
                }
            }
        });
        assert_eq!(ids(&manager).len(), 12_000);
        assert!(
            largest < 24 * 1024 * 1024,
            "the WAL reached {largest} bytes"
        );
    }

    #[test]
    fn many_concurrent_writers_all_succeed_and_nothing_is_lost() {
        let (_dir, manager, conn) = database();
        drop(conn);
        let writer = Writer::start(manager.clone(), 32).unwrap();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread()
                        .build()
                        .unwrap();
                    rt.block_on(async {
                        let writes = (0..50).map(|i| writer.submit(insert(t * 1000 + i)));
                        futures_util::future::join_all(writes).await
                    })
                })
            })
            .collect();
        for thread in threads {
            for answer in thread.join().unwrap() {
                answer.unwrap();
            }
        }
        assert_eq!(ids(&manager).len(), 400);
        assert_eq!(writer.stats().jobs, 400);
    }
}
