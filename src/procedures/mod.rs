//! French procurement procedures: which procedure a value calls for, from a dated threshold
//! table kept in configuration (a new decree is a configuration change, not a code change).

pub mod advice;
