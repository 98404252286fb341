//! Exact allocation of a contract's cost among the members of a group. Pure, no I/O.
//!
//! - [`split`] shares an amount among claimants in proportion to their weights by the
//!   largest remainder method at 0.01 €, computed in integers, and returns a proof per member
//!   ([`Share`]) that an auditor can redo by hand; [`verify`] redoes it from the proof alone.
//! - [`allocate_contract`] applies the product rule to a contract: item totals rounded half
//!   up, each split among members by quantity, then HT, VAT per rate and TTC per member.
//!
//! Shared costs and the coordinator fee use the same [`split`] with the keys `equal`
//! (weight 1 each), `dwellings` (the member's dwellings) or `awarded_value` (the member's
//! contracted HT in the group). See `docs/allocation.md`.

#![warn(missing_docs)]

pub mod domain;

pub use domain::*;
