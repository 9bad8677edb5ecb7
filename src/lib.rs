//! imhotep: a Djoser + SimpleJWT compatible authentication server.

pub mod app;
pub mod auth;
mod background;
pub mod cli;
pub mod config;
mod housekeeping;
pub mod http;
pub mod import;
mod key_reload;
pub mod keys_cli;
pub mod mail;
pub mod metrics;
mod panics;
pub mod sessions_cli;
pub mod store;
pub mod telemetry;
mod terminal;
pub mod throttle_cli;
pub mod users_cli;
