//! What every handler can reach: the database pool, the clock, the settings, the token cache
//! and the campaign cache.
//!
//! Feature modules import this (through their handlers' `web::Data<AppState>`), never the
//! router: the URL table depends on the features, not the other way round.

use std::sync::Arc;

use crate::auth::cache::TokenCache;
use crate::campaigns::cache::CampaignCache;
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
    /// Recently looked-up tokens (`auth.token_cache_ms`).
    pub tokens: Arc<TokenCache>,
    /// What cannot change of the open campaigns needs were written into (creating a need
    /// sends one statement).
    pub campaigns: Arc<CampaignCache>,
}

impl AppState {
    /// The state of one service instance.
    pub fn new(db: Db, clock: Arc<dyn Clock>, settings: Arc<Settings>) -> Self {
        let tokens = Arc::new(TokenCache::new(settings.auth.token_cache_ms));
        Self {
            db,
            clock,
            settings,
            tokens,
            campaigns: Arc::new(CampaignCache::new()),
        }
    }
}
