//! Awards of lots: to the best-ranked bid or another with a reason, the award and rejection
//! letters (R2181-3), the standstill (R2182-1) and the cascade after a withdrawn award
//! (R2144-7). Rules in [`domain`]; see `docs/award.md`.

pub mod domain;
pub mod notices;
pub mod routes;
pub mod store;
