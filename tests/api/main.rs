//! Integration tests of the HTTP API. Every test runs on SQLite and on PostgreSQL, each with a
//! database of its own.

mod common;

mod audit;
mod awards;
mod cli;
mod conventions;
mod exports;
mod foundation;
mod hardening;
mod idempotency;
mod mail;
mod needs;
mod organisations;
mod tenders;
