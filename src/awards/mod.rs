//! Awards, rejections and standstill. So far: the notices an award sends.
//!
//! The feature itself (domain, store, routes) comes with its issue; its mails live here from
//! the start so that no other module renders them.

pub mod notices;
