//! Inserts a write sends together at its end: one statement on PostgreSQL, one round trip.
//!
//! A write that creates something usually inserts several rows nobody reads back in its
//! transaction: the new object, its audit event, its idempotency record. Sent one by one,
//! each costs a round trip to PostgreSQL, and on a small machine the round trips, not the
//! rows, are what a write spends most on. So a feature may *queue* such an insert in a
//! [`Batch`] instead of running it; the write sends the batch as its last statement, before
//! its commit:
//!
//! - PostgreSQL: one statement, `WITH q0 AS (INSERT …), q1 AS (INSERT …) INSERT …`, prepared
//!   once per connection like any other (its text is the same for every write of a route).
//!   Its inserts run with one snapshot, in no set order, and any failure fails the statement
//!   (and the transaction) whole.
//! - SQLite: the inserts one after the other, in the order queued (they cost no round trip).
//!
//! A batch may also carry a **condition** ([`Batch::only_if`]): a query returning one boolean,
//! evaluated by the batch's own statement (PostgreSQL: `… SELECT CASE WHEN (<condition>) THEN 1
//! ELSE tenderpool_condition_failed() END`, the function raising; SQLite: the query first, in
//! the same transaction). When it is false nothing is written and [`Batch::run`] fails with
//! [`CONDITION_FAILED`]; the write is then tried once more with a batch that
//! [`rechecks`](Batch::rechecks), whose feature reads what it had taken from a cache again
//! (see `idempotency::once`). That lets a write check state it knows from an in-process cache
//! (immutable facts) plus the few mutable facts it depends on in the one statement that
//! writes, instead of a read before it.
//!
//! Each feature still writes only its own tables, with its own diesel insert: the batch only
//! carries the statements. Queue only rows that nothing later in the same transaction reads or
//! references (no foreign key between two queued rows; no read of a queued row before the
//! batch is sent), and whose failure is the whole write's failure.

use diesel::connection::Connection;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::query_dsl::methods::LoadQuery;
use diesel::result::{DatabaseErrorKind, Error};
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::QueryResult;

use super::DbConn;

/// One queued insert, runnable on either backend.
trait Queued {
    /// The statement as PostgreSQL SQL (to be written into the batch's statement).
    fn pg(&self) -> &dyn QueryFragment<Pg>;
    /// Runs the statement on SQLite; returns the rows it wrote.
    fn run_sqlite(&self, conn: &mut SqliteConnection) -> QueryResult<usize>;
}

impl<Q> Queued for Q
where
    Q: QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId,
{
    fn pg(&self) -> &dyn QueryFragment<Pg> {
        self
    }

    fn run_sqlite(&self, conn: &mut SqliteConnection) -> QueryResult<usize> {
        conn.execute_returning_count(self)
    }
}

/// The message of the error a batch fails with when its condition is false (raised by the
/// PostgreSQL function of the same name, built here on SQLite).
pub const CONDITION_FAILED: &str = "tenderpool_condition_failed";

/// Whether `error` is a batch refused by its condition ([`Batch::only_if`]): nothing was
/// written, and the write may be tried again after reading the database afresh.
pub fn condition_failed(error: &Error) -> bool {
    matches!(error, Error::DatabaseError(_, info) if info.message() == CONDITION_FAILED)
}

/// Runs a batch's condition on SQLite.
type SqliteCheck = Box<dyn Fn(&mut SqliteConnection) -> QueryResult<bool>>;

/// A batch's condition: the query PostgreSQL evaluates in the batch's statement, and the
/// check SQLite runs before its inserts.
struct Condition {
    pg: Box<dyn QueryFragment<Pg>>,
    sqlite: SqliteCheck,
}

/// Inserts queued by a write, sent together by [`Batch::run`] (see the module documentation).
#[derive(Default)]
pub struct Batch {
    queued: Vec<Box<dyn Queued>>,
    condition: Option<Condition>,
    rechecks: bool,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("queued", &self.queued.len())
            .field("condition", &self.condition.is_some())
            .field("rechecks", &self.rechecks)
            .finish()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty batch for a write tried again because its earlier attempt's condition failed
    /// (see [`Batch::rechecks`]).
    pub fn rechecking() -> Self {
        Self {
            rechecks: true,
            ..Self::default()
        }
    }

    /// True when an earlier attempt of this write was refused by its condition: the feature
    /// must read from the database what it would otherwise take from a cache. (Its condition
    /// may fail again only if the state changed again in between: that error then reaches
    /// the client as 409 `write_condition_changed`.)
    pub fn rechecks(&self) -> bool {
        self.rechecks
    }

    /// Makes the batch's rows conditional: `pg` and `sqlite` are the same query returning one
    /// boolean (e.g. `diesel::select(exists(…))`, with owned binds), `pg` possibly with a
    /// row lock (e.g. `FOR KEY SHARE`, so that the statement waits for a concurrent change of
    /// the row and then sees it). PostgreSQL evaluates it in the batch's statement, SQLite
    /// before the inserts; when it is false, nothing is written and [`Batch::run`] fails with
    /// [`CONDITION_FAILED`]. One condition per batch: a second call replaces the first.
    pub fn only_if<P, S>(&mut self, pg: P, sqlite: S)
    where
        P: QueryFragment<Pg> + 'static,
        S: Clone + for<'a> LoadQuery<'a, SqliteConnection, bool> + 'static,
    {
        self.condition = Some(Condition {
            pg: Box::new(pg),
            sqlite: Box::new(move |conn| sqlite.clone().get_result(conn)),
        });
    }

    /// Queues `insert` (a diesel `insert_into(table).values(row)` with an owned row, no
    /// `RETURNING`), to run when the batch is sent.
    pub fn push<Q>(&mut self, insert: Q)
    where
        Q: QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId + 'static,
    {
        self.queued.push(Box::new(insert));
    }

    /// How many inserts are queued.
    pub fn len(&self) -> usize {
        self.queued.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queued.is_empty()
    }

    /// Sends the queued inserts on `conn`, inside the caller's transaction: on PostgreSQL as
    /// one statement. An empty batch without condition sends nothing. Fails with
    /// [`CONDITION_FAILED`] (see [`condition_failed`]), having written nothing, when its
    /// condition is false.
    pub fn run(self, conn: &mut DbConn) -> QueryResult<()> {
        match conn {
            DbConn::Pg(pg) => {
                if self.queued.is_empty() && self.condition.is_none() {
                    return Ok(());
                }
                pg.execute_returning_count(&Together {
                    inserts: &self.queued,
                    condition: self.condition.as_ref().map(|c| &*c.pg),
                })
                .map(drop)
            }
            DbConn::Sqlite(sqlite) => {
                if let Some(condition) = &self.condition {
                    if !(condition.sqlite)(sqlite)? {
                        return Err(Error::DatabaseError(
                            DatabaseErrorKind::Unknown,
                            Box::new(CONDITION_FAILED.to_owned()),
                        ));
                    }
                }
                for insert in &self.queued {
                    insert.run_sqlite(sqlite)?;
                }
                Ok(())
            }
        }
    }
}

/// The PostgreSQL statement of a batch: every insert but the last as a data-modifying `WITH`
/// query, the last as the main statement; with a condition, every insert is a `WITH` query
/// and the main statement checks the condition (PostgreSQL runs the unread `WITH` inserts
/// after it, and an error in it fails them all). Its placeholders are numbered across the
/// whole statement, since everything is written into the same pass.
struct Together<'a> {
    inserts: &'a [Box<dyn Queued>],
    condition: Option<&'a dyn QueryFragment<Pg>>,
}

impl QueryId for Together<'_> {
    type QueryId = ();
    // No static id: diesel caches the prepared statement by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Together<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        match (self.condition, self.inserts.split_last()) {
            (Some(condition), _) => {
                with_queries(out.reborrow(), self.inserts)?;
                out.push_sql("SELECT CASE WHEN (");
                condition.walk_ast(out.reborrow())?;
                out.push_sql(&format!(") THEN 1 ELSE {CONDITION_FAILED}() END"));
                Ok(())
            }
            (None, Some((last, first))) => {
                with_queries(out.reborrow(), first)?;
                last.pg().walk_ast(out.reborrow())
            }
            (None, None) => Ok(()),
        }
    }
}

/// `WITH q0 AS (…), q1 AS (…) ` for `inserts` (nothing when there are none).
fn with_queries<'b>(
    mut out: AstPass<'_, 'b, Pg>,
    inserts: &'b [Box<dyn Queued>],
) -> QueryResult<()> {
    for (i, insert) in inserts.iter().enumerate() {
        out.push_sql(if i == 0 { "WITH " } else { ", " });
        out.push_sql(&format!("q{i} AS ("));
        insert.pg().walk_ast(out.reborrow())?;
        out.push_sql(")");
    }
    if !inserts.is_empty() {
        out.push_sql(" ");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use diesel::connection::SimpleConnection;
    use diesel::prelude::*;

    use super::*;

    diesel::table! {
        items (id) {
            id -> Integer,
            label -> Text,
        }
    }

    fn insert(id: i32, label: &str) -> impl QueryFragment<Pg> + QueryFragment<Sqlite> + QueryId {
        diesel::insert_into(items::table)
            .values((items::id.eq(id), items::label.eq(label.to_owned())))
    }

    fn sqlite() -> DbConn {
        let mut conn = SqliteConnection::establish(":memory:").expect("in-memory SQLite");
        conn.batch_execute("CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
            .expect("table");
        DbConn::Sqlite(conn)
    }

    fn labels(conn: &mut DbConn) -> Vec<String> {
        items::table
            .select(items::label)
            .order(items::id)
            .load(conn)
            .expect("labels")
    }

    #[test]
    fn on_postgresql_the_inserts_are_one_statement_with_placeholders_numbered_across_it() {
        let mut batch = Batch::new();
        batch.push(insert(1, "need"));
        batch.push(insert(2, "event"));
        batch.push(insert(3, "record"));
        let sql = pg_sql(&batch);
        assert!(
            sql.starts_with(
                "WITH q0 AS (INSERT INTO \"items\" (\"id\", \"label\") VALUES ($1, $2)), \
                 q1 AS (INSERT INTO \"items\" (\"id\", \"label\") VALUES ($3, $4)) \
                 INSERT INTO \"items\" (\"id\", \"label\") VALUES ($5, $6)"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("[1, \"need\", 2, \"event\", 3, \"record\"]"),
            "{sql}"
        );
        // One insert is sent as itself.
        batch.queued.truncate(1);
        let sql = pg_sql(&batch);
        assert!(sql.starts_with("INSERT INTO \"items\""), "{sql}");
    }

    fn pg_sql(batch: &Batch) -> String {
        diesel::debug_query::<Pg, _>(&Together {
            inserts: &batch.queued,
            condition: batch.condition.as_ref().map(|c| &*c.pg),
        })
        .to_string()
    }

    /// `SELECT EXISTS (SELECT id FROM items WHERE label = $label)`.
    fn exists_label(
        label: &str,
    ) -> impl QueryFragment<Pg> + Clone + for<'a> LoadQuery<'a, SqliteConnection, bool> + 'static
    {
        diesel::select(diesel::dsl::exists(
            items::table
                .filter(items::label.eq(label.to_owned()))
                .select(items::id),
        ))
    }

    #[test]
    fn with_a_condition_every_insert_is_a_with_query_and_the_statement_checks_it() {
        let mut batch = Batch::new();
        batch.push(insert(1, "need"));
        batch.push(insert(2, "event"));
        batch.only_if(exists_label("open"), exists_label("open"));
        let sql = pg_sql(&batch);
        assert!(
            sql.starts_with(
                "WITH q0 AS (INSERT INTO \"items\" (\"id\", \"label\") VALUES ($1, $2)), \
                 q1 AS (INSERT INTO \"items\" (\"id\", \"label\") VALUES ($3, $4)) \
                 SELECT CASE WHEN (SELECT EXISTS (SELECT \"items\".\"id\" FROM \"items\" \
                 WHERE (\"items\".\"label\" = $5))) THEN 1 ELSE tenderpool_condition_failed() END"
            ),
            "{sql}"
        );
        assert!(
            sql.contains("[1, \"need\", 2, \"event\", \"open\"]"),
            "{sql}"
        );
    }

    #[test]
    fn on_sqlite_a_false_condition_writes_nothing_and_fails_as_such_a_true_one_writes_all() {
        let mut conn = sqlite();
        let mut batch = Batch::new();
        batch.push(insert(1, "need"));
        batch.only_if(exists_label("open"), exists_label("open"));
        let error = batch.run(&mut conn).expect_err("no row is labelled open");
        assert!(condition_failed(&error), "{error:?}");
        assert!(labels(&mut conn).is_empty());
        assert!(!condition_failed(&Error::NotFound));

        let mut batch = Batch::new();
        batch.push(insert(1, "open"));
        batch.run(&mut conn).expect("unconditional");
        let mut batch = Batch::rechecking();
        assert!(batch.rechecks() && !Batch::new().rechecks());
        batch.push(insert(2, "need"));
        batch.only_if(exists_label("open"), exists_label("open"));
        batch.run(&mut conn).expect("a row is labelled open");
        assert_eq!(labels(&mut conn), ["open", "need"]);
    }

    #[test]
    fn on_sqlite_every_insert_runs_in_order() {
        let mut conn = sqlite();
        Batch::new().run(&mut conn).expect("empty batch");
        let mut batch = Batch::new();
        batch.push(insert(1, "need"));
        batch.push(insert(2, "event"));
        assert_eq!(batch.len(), 2);
        batch.run(&mut conn).expect("batch");
        assert_eq!(labels(&mut conn), ["need", "event"]);
    }

    #[test]
    fn a_failing_insert_fails_the_batch_and_its_transaction_keeps_nothing() {
        let mut conn = sqlite();
        let result = conn.transaction(|conn| {
            let mut batch = Batch::new();
            batch.push(insert(1, "need"));
            batch.push(insert(1, "taken"));
            batch.run(conn)
        });
        assert!(result.is_err());
        assert!(labels(&mut conn).is_empty());
    }
}
