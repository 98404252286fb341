//! One spelling per enum value, for JSON and for the database alike: serde's `rename_all`
//! is the single source, so a stored status can never drift from the API's.

use serde::de::DeserializeOwned;
use serde::Serialize;

/// A fieldless enum serialized as a string. Implement it with an empty `impl`.
pub trait Spelled: Serialize + DeserializeOwned {
    /// The value's spelling, e.g. `"lump_sum"`.
    fn spelling(&self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// The value with this spelling, if any. Deserializes straight from the string (no JSON
    /// value, no allocation): stored enums are decoded once per row read.
    fn from_spelling(s: &str) -> Option<Self> {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            s.into_deserializer();
        Self::deserialize(de).ok()
    }
}

/// Declares a fieldless enum whose values are stored and sent as their snake_case spelling:
/// serde (JSON), utoipa (OpenAPI), and a `Text` column on both backends
/// ([`spelled_column!`](crate::spelled_column)), so queries compare columns with enum values.
///
/// ```ignore
/// crate::stored_enum! {
///     /// Status of a tender.
///     pub enum TenderStatus { Draft, Published, Opened }
/// }
/// ```
#[macro_export]
macro_rules! stored_enum {
    // The serde case is written out in each arm, never passed as a macro fragment: utoipa's
    // derive does not read a `rename_all` whose value comes from a `$case:literal` (the
    // OpenAPI document then listed Rust names while the API sent snake_case).
    ($(#[$attr:meta])* pub enum $name:ident { $($(#[$vattr:meta])* $variant:ident),* $(,)? }) => {
        $(#[$attr])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(rename_all = "snake_case")]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vattr])* $variant),*
        }

        impl $crate::spelled::Spelled for $name {}
        $crate::spelled_column!($name);
    };
    // Spellings set by a standard in upper case with dashes, e.g. DECP's `"HORS-UE"`.
    (@screaming_kebab $(#[$attr:meta])* pub enum $name:ident { $($(#[$vattr:meta])* $variant:ident),* $(,)? }) => {
        $(#[$attr])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash,
            serde::Serialize, serde::Deserialize, utoipa::ToSchema,
            diesel::expression::AsExpression, diesel::deserialize::FromSqlRow,
        )]
        #[serde(rename_all = "SCREAMING-KEBAB-CASE")]
        #[diesel(sql_type = diesel::sql_types::Text)]
        pub enum $name {
            $($(#[$vattr])* $variant),*
        }

        impl $crate::spelled::Spelled for $name {}
        $crate::spelled_column!($name);
    };
}

#[cfg(test)]
mod tests {
    use super::Spelled;
    use crate::auth::Role;
    use crate::campaigns::domain::CampaignStatus;
    use crate::groups::domain::CostSharingKey;
    use crate::needs::domain::{NeedStatus, Unit};
    use crate::notifications::domain::OutboxStatus;

    #[test]
    fn spellings_round_trip_and_match_the_schema_checks() {
        assert_eq!(Unit::LumpSum.spelling(), "lump_sum");
        assert_eq!(Unit::from_spelling("m2"), Some(Unit::M2));
        assert_eq!(Unit::from_spelling("furlong"), None);
        // The values the migrations' CHECK constraints accept.
        let roles: Vec<String> = [Role::Admin, Role::Lead, Role::Officer, Role::Supplier]
            .iter()
            .map(Spelled::spelling)
            .collect();
        assert_eq!(roles, ["admin", "lead", "officer", "supplier"]);
        let keys: Vec<String> = [
            CostSharingKey::Equal,
            CostSharingKey::Dwellings,
            CostSharingKey::AwardedValue,
        ]
        .iter()
        .map(Spelled::spelling)
        .collect();
        assert_eq!(keys, ["equal", "dwellings", "awarded_value"]);
        let campaign: Vec<String> = [
            CampaignStatus::Open,
            CampaignStatus::Closed,
            CampaignStatus::Frozen,
        ]
        .iter()
        .map(Spelled::spelling)
        .collect();
        assert_eq!(campaign, ["open", "closed", "frozen"]);
        let needs: Vec<String> = [
            NeedStatus::Draft,
            NeedStatus::Submitted,
            NeedStatus::Consolidated,
            NeedStatus::Withdrawn,
            NeedStatus::Rejected,
        ]
        .iter()
        .map(Spelled::spelling)
        .collect();
        assert_eq!(
            needs,
            [
                "draft",
                "submitted",
                "consolidated",
                "withdrawn",
                "rejected"
            ]
        );
        let outbox: Vec<String> = [
            OutboxStatus::Pending,
            OutboxStatus::Sending,
            OutboxStatus::Sent,
            OutboxStatus::Failed,
        ]
        .iter()
        .map(Spelled::spelling)
        .collect();
        assert_eq!(outbox, ["pending", "sending", "sent", "failed"]);
        assert_eq!(
            OutboxStatus::from_spelling("sent"),
            Some(OutboxStatus::Sent)
        );
    }
}
