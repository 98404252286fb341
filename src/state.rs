//! What every handler can reach: the database pool, the clock and the settings.
//!
//! Feature modules import this (through their handlers' `web::Data<AppState>`), never the
//! router: the URL table depends on the features, not the other way round.

use std::sync::Arc;

use crate::clock::Clock;
use crate::config::Settings;
use crate::db::Db;

/// Shared by every worker of the HTTP server; holds no request state.
pub struct AppState {
    /// Database pool.
    pub db: Db,
    /// Source of "now".
    pub clock: Arc<dyn Clock>,
    /// Settings loaded at start-up.
    pub settings: Arc<Settings>,
}
