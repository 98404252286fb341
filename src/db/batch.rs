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
//! Each feature still writes only its own tables, with its own diesel insert: the batch only
//! carries the statements. Queue only rows that nothing later in the same transaction reads or
//! references (no foreign key between two queued rows; no read of a queued row before the
//! batch is sent), and whose failure is the whole write's failure.

use diesel::connection::Connection;
use diesel::pg::Pg;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
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

/// Inserts queued by a write, sent together by [`Batch::run`] (see the module documentation).
#[derive(Default)]
pub struct Batch {
    queued: Vec<Box<dyn Queued>>,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("queued", &self.queued.len())
            .finish()
    }
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Self {
        Self::default()
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
    /// one statement. Returns the rows written by the last insert queued. An empty batch
    /// sends nothing.
    pub fn run(self, conn: &mut DbConn) -> QueryResult<usize> {
        match conn {
            DbConn::Pg(pg) => match self.queued.as_slice() {
                [] => Ok(0),
                queued => pg.execute_returning_count(&Together(queued)),
            },
            DbConn::Sqlite(sqlite) => {
                let mut last = 0;
                for insert in &self.queued {
                    last = insert.run_sqlite(sqlite)?;
                }
                Ok(last)
            }
        }
    }
}

/// The PostgreSQL statement of a batch: every insert but the last as a data-modifying `WITH`
/// query, the last as the main statement. Its placeholders are numbered across the whole
/// statement, since every insert writes into the same pass.
struct Together<'a>(&'a [Box<dyn Queued>]);

impl QueryId for Together<'_> {
    type QueryId = ();
    // No static id: diesel caches the prepared statement by its SQL text instead.
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl QueryFragment<Pg> for Together<'_> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        let Some((last, first)) = self.0.split_last() else {
            return Ok(());
        };
        for (i, insert) in first.iter().enumerate() {
            out.push_sql(if i == 0 { "WITH " } else { ", " });
            out.push_sql(&format!("q{i} AS ("));
            insert.pg().walk_ast(out.reborrow())?;
            out.push_sql(")");
        }
        if !first.is_empty() {
            out.push_sql(" ");
        }
        last.pg().walk_ast(out.reborrow())
    }
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
        let sql = diesel::debug_query::<Pg, _>(&Together(&batch.queued)).to_string();
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
        let one = [batch.queued.remove(0)];
        let sql = diesel::debug_query::<Pg, _>(&Together(&one)).to_string();
        assert!(sql.starts_with("INSERT INTO \"items\""), "{sql}");
    }

    #[test]
    fn on_sqlite_every_insert_runs_in_order_and_the_last_ones_rows_are_returned() {
        let mut conn = sqlite();
        assert_eq!(Batch::new().run(&mut conn).expect("empty batch"), 0);
        let mut batch = Batch::new();
        batch.push(insert(1, "need"));
        batch.push(insert(2, "event"));
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.run(&mut conn).expect("batch"), 1);
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
