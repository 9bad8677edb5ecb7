//! imhotep: a Djoser + SimpleJWT compatible authentication server.

pub mod app;
pub mod auth;
pub mod cli;
pub mod config;
pub mod http;
pub mod mail;
pub mod store;
pub mod telemetry;
