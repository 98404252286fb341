//! Column types that differ per backend, behind one SQL type each so queries are written once:
//!
//! | SQL type | PostgreSQL | SQLite | Rust |
//! |---|---|---|---|
//! | [`sql::Dec`] | `numeric` | `TEXT` (exact digits) | [`DbDecimal`] |
//! | [`sql::Uid`] | `uuid` | `TEXT` (lowercase, hyphenated) | [`DbUuid`] |
//! | [`sql::Ts`] | `timestamptz` | `TEXT` fixed-width UTC, so text order is time order | [`DbTime`] |
//! | [`sql::JsonDoc`] | `jsonb` | `TEXT` (the JSON document) | [`DbJson<T>`] |
//! | `Text` | `text` | `TEXT` | every [`Spelled`](crate::spelled::Spelled) enum, via [`spelled_column!`](crate::spelled_column) |
//!
//! Typed ids ([`crate::ids`]) are `Uid` columns too: each id type converts like [`DbUuid`].
//!
//! SQLite never sees a decimal as a number: under `NUMERIC` affinity it would round.

use chrono::{DateTime, SubsecRound, Utc};
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types;
use diesel::sqlite::Sqlite;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::io::Write;
use uuid::Uuid;

use super::MultiBackend;

/// The custom SQL types.
pub mod sql {
    /// Exact decimal: `numeric` on PostgreSQL, `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 1700, array_oid = 1231))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Dec;

    /// UUID: `uuid` on PostgreSQL, `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 2950, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Uid;

    /// UTC instant: `timestamptz` on PostgreSQL, fixed-width RFC 3339 `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 1184, array_oid = 1185))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct Ts;

    /// A JSON document: `jsonb` on PostgreSQL, `TEXT` on SQLite.
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 3802, array_oid = 3807))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct JsonDoc;

    /// A list of UUIDs, only ever read: `uuid[]` on PostgreSQL (e.g. `array_agg(id)`),
    /// comma-separated `TEXT` on SQLite (e.g. `group_concat(id)`).
    #[derive(
        Debug, Clone, Copy, Default, diesel::sql_types::SqlType, diesel::query_builder::QueryId,
    )]
    #[diesel(postgres_type(oid = 2951, array_oid = 2951))]
    #[diesel(sqlite_type(name = "Text"))]
    pub struct UidList;
}

/// A list of UUIDs read from the database (see [`sql::UidList`]).
#[derive(Debug, Clone, PartialEq, Eq, FromSqlRow)]
pub struct DbUuidList(pub Vec<Uuid>);

impl FromSql<sql::UidList, Pg> for DbUuidList {
    fn from_sql(bytes: PgRaw<'_>) -> deserialize::Result<Self> {
        <Vec<Uuid> as FromSql<sql_types::Array<sql_types::Uuid>, Pg>>::from_sql(bytes)
            .map(DbUuidList)
    }
}

impl FromSql<sql::UidList, Sqlite> for DbUuidList {
    fn from_sql(bytes: SqliteRaw<'_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        let ids = text
            .split(',')
            .filter(|id| !id.is_empty())
            .map(Uuid::parse_str)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(DbUuidList(ids))
    }
}

impl diesel::sql_types::HasSqlType<sql::UidList> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql::UidList>(lookup)
    }
}

impl FromSql<sql::UidList, MultiBackend> for DbUuidList {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, sql::UidList>()
    }
}

/// A JSON column value: any serde type stored as one JSON document (lists of CPV prefixes,
/// e-mail addresses…), so no store serializes by hand.
#[derive(Debug, Clone, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::JsonDoc)]
pub struct DbJson<T>(pub T);

/// Version byte that starts PostgreSQL's binary form of `jsonb`.
const JSONB_VERSION: u8 = 1;

impl<T: Serialize + std::fmt::Debug> ToSql<sql::JsonDoc, Pg> for DbJson<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        out.write_all(&[JSONB_VERSION])?;
        serde_json::to_writer(out, &self.0)?;
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<sql::JsonDoc, Pg> for DbJson<T> {
    fn from_sql(bytes: PgRaw<'_>) -> deserialize::Result<Self> {
        match bytes.as_bytes().split_first() {
            Some((&JSONB_VERSION, json)) => Ok(DbJson(serde_json::from_slice(json)?)),
            _ => Err("unsupported jsonb binary format".into()),
        }
    }
}

impl<T: Serialize + std::fmt::Debug> ToSql<sql::JsonDoc, Sqlite> for DbJson<T> {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(serde_json::to_string(&self.0)?);
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<sql::JsonDoc, Sqlite> for DbJson<T> {
    fn from_sql(bytes: SqliteRaw<'_>) -> deserialize::Result<Self> {
        Ok(DbJson(serde_json::from_str(&sqlite_text(bytes)?)?))
    }
}

impl diesel::sql_types::HasSqlType<sql::JsonDoc> for MultiBackend {
    fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
        MultiBackend::lookup_sql_type::<sql::JsonDoc>(lookup)
    }
}

impl<T: Serialize + std::fmt::Debug + Send + Sync + 'static> ToSql<sql::JsonDoc, MultiBackend>
    for DbJson<T>
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
        out.set_value((sql::JsonDoc, self));
        Ok(IsNull::No)
    }
}

impl<T: DeserializeOwned> FromSql<sql::JsonDoc, MultiBackend> for DbJson<T> {
    fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
        bytes.from_sql::<Self, sql::JsonDoc>()
    }
}

/// Stores a [`Spelled`](crate::spelled::Spelled) enum as its spelling in a `Text` column on
/// both backends, and reads it back as the enum; an unknown stored spelling is a
/// deserialization error (→ 500 with the cause logged), never a panic. The enum itself
/// derives `diesel::expression::AsExpression` and `diesel::deserialize::FromSqlRow` with
/// `#[diesel(sql_type = diesel::sql_types::Text)]`, so queries compare columns with enum
/// values (`needs::status.eq(NeedStatus::Draft)`) and no spelling is written in a query.
#[macro_export]
macro_rules! spelled_column {
    ($($ty:ty),* $(,)?) => {$(
        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::pg::Pg> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::pg::Pg>,
            ) -> diesel::serialize::Result {
                use std::io::Write;
                out.write_all($crate::spelled::Spelled::spelling(self).as_bytes())?;
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
            ) -> diesel::serialize::Result {
                out.set_value($crate::spelled::Spelled::spelling(self));
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::serialize::ToSql<diesel::sql_types::Text, $crate::db::MultiBackend> for $ty {
            fn to_sql<'b>(
                &'b self,
                out: &mut diesel::serialize::Output<'b, '_, $crate::db::MultiBackend>,
            ) -> diesel::serialize::Result {
                out.set_value((diesel::sql_types::Text, self));
                Ok(diesel::serialize::IsNull::No)
            }
        }

        impl diesel::deserialize::FromSql<diesel::sql_types::Text, $crate::db::MultiBackend> for $ty {
            fn from_sql(
                bytes: <$crate::db::MultiBackend as diesel::backend::Backend>::RawValue<'_>,
            ) -> diesel::deserialize::Result<Self> {
                let text = bytes.from_sql::<String, diesel::sql_types::Text>()?;
                <$ty as $crate::spelled::Spelled>::from_spelling(&text).ok_or_else(|| {
                    format!("unknown {} spelling {text:?} in the database", stringify!($ty)).into()
                })
            }
        }
    )*};
}

/// An exact decimal column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Dec)]
pub struct DbDecimal(pub Decimal);

/// A UUID column value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Uid)]
pub struct DbUuid(pub Uuid);

/// A UTC timestamp column value, always truncated to microseconds (PostgreSQL's precision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, AsExpression, FromSqlRow)]
#[diesel(sql_type = sql::Ts)]
pub struct DbTime(DateTime<Utc>);

impl DbTime {
    /// Wraps an instant, truncated to microseconds so both backends store the same value.
    pub fn new(t: DateTime<Utc>) -> Self {
        Self(t.trunc_subsecs(6))
    }

    /// The instant.
    pub fn get(self) -> DateTime<Utc> {
        self.0
    }
}

/// SQLite text form of a timestamp: `2026-11-29T15:33:47.123456Z`, always 27 characters.
pub fn sqlite_time_text(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

type PgRaw<'a> = <Pg as Backend>::RawValue<'a>;
type SqliteRaw<'a> = <Sqlite as Backend>::RawValue<'a>;

fn sqlite_text(bytes: SqliteRaw<'_>) -> deserialize::Result<String> {
    <String as FromSql<sql_types::Text, Sqlite>>::from_sql(bytes)
}

impl ToSql<sql::Dec, Pg> for DbDecimal {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Decimal as ToSql<sql_types::Numeric, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Dec, Pg> for DbDecimal {
    fn from_sql(bytes: PgRaw<'_>) -> deserialize::Result<Self> {
        <Decimal as FromSql<sql_types::Numeric, Pg>>::from_sql(bytes).map(DbDecimal)
    }
}

impl ToSql<sql::Dec, Sqlite> for DbDecimal {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Dec, Sqlite> for DbDecimal {
    fn from_sql(bytes: SqliteRaw<'_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        Ok(DbDecimal(Decimal::from_str_exact(&text)?))
    }
}

impl ToSql<sql::Uid, Pg> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <Uuid as ToSql<sql_types::Uuid, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Uid, Pg> for DbUuid {
    fn from_sql(bytes: PgRaw<'_>) -> deserialize::Result<Self> {
        <Uuid as FromSql<sql_types::Uuid, Pg>>::from_sql(bytes).map(DbUuid)
    }
}

impl ToSql<sql::Uid, Sqlite> for DbUuid {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        out.set_value(self.0.hyphenated().to_string());
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Uid, Sqlite> for DbUuid {
    fn from_sql(bytes: SqliteRaw<'_>) -> deserialize::Result<Self> {
        Ok(DbUuid(Uuid::parse_str(&sqlite_text(bytes)?)?))
    }
}

impl ToSql<sql::Ts, Pg> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
        <DateTime<Utc> as ToSql<sql_types::Timestamptz, Pg>>::to_sql(&self.0, out)
    }
}

impl FromSql<sql::Ts, Pg> for DbTime {
    fn from_sql(bytes: PgRaw<'_>) -> deserialize::Result<Self> {
        <DateTime<Utc> as FromSql<sql_types::Timestamptz, Pg>>::from_sql(bytes).map(DbTime)
    }
}

impl ToSql<sql::Ts, Sqlite> for DbTime {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        // The fixed-width text form (and reading it back) needs a four-digit year: anything
        // else is refused here rather than stored as text that could not be read again.
        let year = chrono::Datelike::year(&self.0);
        if !(0..=9999).contains(&year) {
            return Err(
                format!("instant {} is outside the storable years 0000-9999", self.0).into(),
            );
        }
        out.set_value(sqlite_time_text(self.0));
        Ok(IsNull::No)
    }
}

impl FromSql<sql::Ts, Sqlite> for DbTime {
    fn from_sql(bytes: SqliteRaw<'_>) -> deserialize::Result<Self> {
        let text = sqlite_text(bytes)?;
        Ok(DbTime(
            DateTime::parse_from_rfc3339(&text)?.with_timezone(&Utc),
        ))
    }
}

/// Makes a custom SQL type usable through the [`MultiBackend`]: each value is handed to the
/// backend-specific impls above.
macro_rules! multi_backend_type {
    ($($sql:ty => $rust:ty),* $(,)?) => {$(
        impl diesel::sql_types::HasSqlType<$sql> for MultiBackend {
            fn metadata(lookup: &mut Self::MetadataLookup) -> Self::TypeMetadata {
                MultiBackend::lookup_sql_type::<$sql>(lookup)
            }
        }

        impl ToSql<$sql, MultiBackend> for $rust {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((<$sql>::default(), self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<$sql, MultiBackend> for $rust {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<Self, $sql>()
            }
        }
    )*};
}

multi_backend_type!(sql::Dec => DbDecimal, sql::Uid => DbUuid, sql::Ts => DbTime);

impl From<Uuid> for DbUuid {
    fn from(u: Uuid) -> Self {
        DbUuid(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn sqlite_time_text_is_fixed_width_and_ordered() {
        let a = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap();
        let b = a + chrono::Duration::microseconds(1);
        assert_eq!(sqlite_time_text(a), "2026-01-02T03:04:05.000000Z");
        assert_eq!(sqlite_time_text(a).len(), 27);
        assert!(sqlite_time_text(a) < sqlite_time_text(b));
    }

    #[test]
    fn a_uuid_list_reads_from_sqlite_text_and_refuses_a_bad_id() {
        use diesel::connection::Connection;
        use diesel::dsl::sql;
        use diesel::RunQueryDsl;
        let mut conn = diesel::SqliteConnection::establish(":memory:").expect("SQLite");
        let (a, b) = (Uuid::nil(), Uuid::max());
        let list: DbUuidList = diesel::select(sql::<sql::UidList>(&format!("'{a},{b}'")))
            .get_result(&mut conn)
            .expect("two ids");
        assert_eq!(list.0, [a, b]);
        let empty: DbUuidList = diesel::select(sql::<sql::UidList>("''"))
            .get_result(&mut conn)
            .expect("no id");
        assert!(empty.0.is_empty());
        let bad =
            diesel::select(sql::<sql::UidList>("'not-a-uuid'")).get_result::<DbUuidList>(&mut conn);
        assert!(bad.is_err());
    }

    #[test]
    fn db_time_truncates_to_microseconds() {
        let t = Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
            + chrono::Duration::nanoseconds(1_234_567);
        assert_eq!(DbTime::new(t).get().timestamp_subsec_nanos(), 1_234_000);
    }
}
