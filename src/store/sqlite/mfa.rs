//! Two-factor rows on SQLite: the shared statements and functions of `store::mfa_sql`.

use super::SqliteStore;
use crate::store::mfa::{MfaFactor, NewTicket, TicketLookup};
use crate::store::mfa_sql::*;
use crate::store::models::QueuedMail;
use crate::store::{StoreError, now};

mfa_queries!(SqliteStore, for_sqlite, begin_with, "BEGIN IMMEDIATE");
