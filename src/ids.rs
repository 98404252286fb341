//! Typed identifiers: one type per kind of object, so swapping a member id and a group id in a
//! call does not compile.
//!
//! Each id is a UUID (v7 for new objects: their order is creation order, which cursor
//! pagination relies on). It is a transparent string in JSON, a path parameter
//! (`web::Path<NeedId>`; a malformed id is a 404), and a `Uid` column value on both backends
//! (`needs::id.eq(need_id)`, `Selectable` fields of type `NeedId`).

use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql};
use diesel::pg::Pg;
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sqlite::Sqlite;
use uuid::Uuid;

use crate::db::types::{sql::Uid, DbUuid};
use crate::db::MultiBackend;

/// Declares typed ids: `typed_ids! { /// doc \n MemberId, … }`.
macro_rules! typed_ids {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(transparent)]
        #[diesel(sql_type = Uid)]
        #[schema(value_type = String, format = Uuid)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new id (UUID v7: ordered by creation time).
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }

            /// The UUID.
            pub fn uuid(self) -> Uuid {
                self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                self.0.fmt(f)
            }
        }

        impl std::str::FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }

        impl From<$name> for Uuid {
            fn from(id: $name) -> Uuid {
                id.0
            }
        }

        impl ToSql<Uid, Pg> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Pg>) -> serialize::Result {
                <Uuid as ToSql<diesel::sql_types::Uuid, Pg>>::to_sql(&self.0, out)
            }
        }

        impl ToSql<Uid, Sqlite> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
                out.set_value(self.0.hyphenated().to_string());
                Ok(IsNull::No)
            }
        }

        impl ToSql<Uid, MultiBackend> for $name {
            fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, MultiBackend>) -> serialize::Result {
                out.set_value((Uid, self));
                Ok(IsNull::No)
            }
        }

        impl FromSql<Uid, Pg> for $name {
            fn from_sql(bytes: <Pg as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <DbUuid as FromSql<Uid, Pg>>::from_sql(bytes).map(|u| Self(u.0))
            }
        }

        impl FromSql<Uid, Sqlite> for $name {
            fn from_sql(bytes: <Sqlite as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                <DbUuid as FromSql<Uid, Sqlite>>::from_sql(bytes).map(|u| Self(u.0))
            }
        }

        impl FromSql<Uid, MultiBackend> for $name {
            fn from_sql(bytes: <MultiBackend as Backend>::RawValue<'_>) -> deserialize::Result<Self> {
                bytes.from_sql::<DbUuid, Uid>().map(|u| Self(u.0))
            }
        }
    )*};
}

typed_ids! {
    /// A member office.
    MemberId,
    /// A supplier.
    SupplierId,
    /// A group (*groupement de commandes*).
    GroupId,
    /// A needs campaign.
    CampaignId,
    /// A need.
    NeedId,
    /// An API token.
    TokenId,
    /// An outbox message.
    MailId,
    /// An idempotency record.
    IdempotencyRecordId,
    /// A tender.
    TenderId,
    /// A lot of a tender.
    TenderLotId,
    /// An item of a lot.
    TenderItemId,
    /// A bid version.
    BidId,
    /// An award of a lot.
    AwardId,
    /// A contract (one per lot).
    ContractId,
    /// A shared cost of a group.
    SharedCostId,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_transparent_in_json_and_parse_from_text() {
        let id = NeedId::new();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{}\"", id.0));
        assert_eq!(serde_json::from_str::<NeedId>(&json).unwrap(), id);
        assert_eq!(id.to_string().parse::<NeedId>().unwrap(), id);
        assert!("not-a-uuid".parse::<NeedId>().is_err());
        assert!(NeedId::new() > id, "v7 ids grow with time");
    }
}
