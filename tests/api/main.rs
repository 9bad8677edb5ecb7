//! Black-box API tests: the real server on a random port, a fresh database per test (SQLite and
//! PostgreSQL), real e-mail over SMTP. Each scenario runs once per database.

mod binary;
mod helpers;
mod reference;
mod smtp;
mod tokens;

mod account;
mod activation;
mod bearer;
mod browser;
mod config_files;
mod connections;
mod cookies;
mod cors;
mod csrf;
mod django_import;
mod email_change;
mod email_keys;
mod flow;
mod housekeeping;
mod interop;
mod jwt_create;
mod jwt_refresh;
mod jwt_verify_blacklist_logout;
mod keys;
mod keys_cli;
mod layouts;
mod login_timing;
mod logs;
mod mail_limits;
mod me;
mod metrics;
mod mfa;
mod openapi;
mod outbox;
mod register;
mod sessions;
mod sessions_cli;
mod startup;
mod suspension;
mod throttle;
mod transport;
mod unavailable;
mod users_admin;
mod users_cli;
