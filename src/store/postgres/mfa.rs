//! Two-factor rows on PostgreSQL: the shared statements and functions of `store::mfa_sql`.

use super::PgStore;
use crate::store::mfa::{MfaFactor, NewTicket, TicketLookup};
use crate::store::mfa_sql::*;
use crate::store::models::QueuedMail;
use crate::store::{StoreError, now};

mfa_queries!(PgStore, for_postgres, begin);
