//! A group and its rules. Pure.

use std::collections::BTreeMap;

use crate::ids::GroupId;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::decimal::{Amount, Percent};
use crate::error::ApiError;
use crate::members::domain::is_member_code;
use crate::validate::Checks;

crate::stored_enum! {
    /// How shared costs and the coordinator fee are split among the members.
    pub enum CostSharingKey {
        /// Equal parts.
        Equal,
        /// Pro rata to each member's number of dwellings.
        Dwellings,
        /// Pro rata to each member's contracted value HT in the group.
        AwardedValue,
    }
}

/// Body of `POST /api/v1/groups`.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateGroup {
    /// Name of the group (1–200 characters).
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    /// Code of the coordinating member (must be one of `members`).
    #[schema(pattern = r"^[A-Z0-9_-]{2,16}$")]
    pub coordinator: String,
    /// Codes of the member offices (2 to 50, no repeats).
    #[schema(min_items = 2, max_items = 50)]
    pub members: Vec<String>,
    /// Default key for shared costs.
    pub cost_sharing_key: CostSharingKey,
    /// Coordinator fee in percent (default `"0"`).
    pub coordinator_fee_percent: Option<Percent>,
    /// Optional annual budget ceiling HT per member code.
    #[serde(default)]
    pub budget_ceilings: BTreeMap<String, Amount>,
}

/// A validated new group (codes still to be resolved against the members table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewGroup {
    /// Name.
    pub name: String,
    /// Coordinator code.
    pub coordinator: String,
    /// Member codes, in the order given.
    pub members: Vec<String>,
    /// Cost-sharing key.
    pub cost_sharing_key: CostSharingKey,
    /// Fee percent.
    pub coordinator_fee_percent: Percent,
    /// Budget ceilings by code.
    pub budget_ceilings: BTreeMap<String, Amount>,
}

/// Most members a group may have.
pub const MAX_MEMBERS: usize = 50;

impl CreateGroup {
    /// Checks every field that needs no database; 422 lists all that are wrong.
    pub fn parse(&self) -> Result<NewGroup, ApiError> {
        let mut c = Checks::new();
        let name = c.line("/name", &self.name, 1, 200);
        // Lengths first: no per-entry work on an oversized list.
        let members_ok = (2..=MAX_MEMBERS).contains(&self.members.len());
        c.check(members_ok, "/members", "must list 2 to 50 member codes");
        let ceilings_ok = self.budget_ceilings.len() <= MAX_MEMBERS;
        c.check(
            ceilings_ok,
            "/budget_ceilings",
            "must name at most 50 members",
        );
        if !(members_ok && ceilings_ok) {
            return Err(c.into_error());
        }
        let mut seen = std::collections::HashSet::with_capacity(self.members.len());
        for (i, code) in self.members.iter().enumerate() {
            if !is_member_code(code) {
                c.add(format!("/members/{i}"), "is not a member code");
            } else if !seen.insert(code.as_str()) {
                c.add(format!("/members/{i}"), "is listed twice");
            }
        }
        c.check(
            seen.contains(self.coordinator.as_str()),
            "/coordinator",
            "must be one of the group's members",
        );
        for code in self.budget_ceilings.keys() {
            c.check(
                seen.contains(code.as_str()),
                &format!("/budget_ceilings/{code}"),
                "names a member that is not in the group",
            );
        }
        c.finish()?;
        Ok(NewGroup {
            name,
            coordinator: self.coordinator.clone(),
            members: self.members.clone(),
            cost_sharing_key: self.cost_sharing_key,
            coordinator_fee_percent: self
                .coordinator_fee_percent
                .unwrap_or(Percent::from_stored(rust_decimal::Decimal::ZERO)),
            budget_ceilings: self.budget_ceilings.clone(),
        })
    }
}

/// A member of a group as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct GroupMember {
    /// Member code.
    pub member_code: String,
    /// Legal name.
    pub legal_name: String,
    /// Dwellings (cost-sharing key).
    pub dwellings: i64,
    /// When the member signed the *convention constitutive*; null while unsigned.
    pub convention_signed_at: Option<DateTime<Utc>>,
    /// Annual budget ceiling HT, if any.
    pub budget_ceiling: Option<Amount>,
}

/// A group as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Group {
    /// Id.
    pub id: GroupId,
    /// Name.
    pub name: String,
    /// Coordinator member code.
    pub coordinator: String,
    /// Members, by code.
    pub members: Vec<GroupMember>,
    /// Default cost-sharing key.
    pub cost_sharing_key: CostSharingKey,
    /// Coordinator fee percent.
    pub coordinator_fee_percent: Percent,
    /// True once every member signed the convention: tenders may then be published.
    pub convention_signed_by_all: bool,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(members: &[&str], coordinator: &str) -> CreateGroup {
        CreateGroup {
            name: "Groupement Ouest".into(),
            coordinator: coordinator.into(),
            members: members.iter().map(|s| s.to_string()).collect(),
            cost_sharing_key: CostSharingKey::Dwellings,
            coordinator_fee_percent: None,
            budget_ceilings: BTreeMap::new(),
        }
    }

    #[test]
    fn valid_group_defaults_fee_to_zero() {
        let g = input(&["NMH", "BMH"], "NMH").parse().unwrap();
        assert_eq!(g.coordinator_fee_percent.to_string(), "0");
    }

    #[test]
    fn coordinator_must_be_member_and_codes_unique() {
        let e = input(&["NMH", "NMH"], "ARCH").parse().unwrap_err();
        let pointers: Vec<_> = e.errors.iter().map(|f| f.pointer.as_str()).collect();
        assert_eq!(pointers, ["/members/1", "/coordinator"]);
        let e = input(&["NMH"], "NMH").parse().unwrap_err();
        assert_eq!(e.errors[0].pointer, "/members");
    }
}
