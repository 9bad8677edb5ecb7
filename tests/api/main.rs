//! Black-box API tests: the real server on a random port, a fresh database per test (SQLite and
//! PostgreSQL), real e-mail over SMTP. Each scenario runs once per database.

mod helpers;
mod smtp;
mod tokens;

mod activation;
mod bearer;
mod flow;
mod jwt_create;
mod jwt_refresh;
mod jwt_verify_blacklist_logout;
mod me;
mod register;
mod transport;
