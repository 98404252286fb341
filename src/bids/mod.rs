//! Bids (*offres*), sealed until the deadline. So far: the notices a bid sends.
//!
//! The feature itself (domain, store, routes) comes with its issue; its mails live here from
//! the start so that no other module renders them.

pub mod notices;
