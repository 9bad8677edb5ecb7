//! Deciding what an import writes, before anything is written: each Django user is new, already
//! present and identical, present but different, in conflict, or invalid. Nothing here does I/O,
//! so `--dry-run` and the real import see the same plan.

use std::collections::{BTreeMap, HashMap};

use crate::auth::email::{Email, MAX_EMAIL_CHARS};
use crate::store::models::{ImportBatch, ImportedBlacklisting, ImportedToken, ImportedUser, User};

/// How to resolve Django users whose e-mails differ only in case (imhotep's unique key is
/// case-insensitive; Django's is not).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OnConflict {
    /// Import the user who logged in most recently (never-logged-in counts as oldest; ties go to
    /// the larger id); skip the others.
    KeepNewestLogin,
    /// Import none of them.
    Skip,
}

/// Django users sharing one e-mail key, oldest id first.
#[derive(Debug, Clone)]
pub struct Conflict {
    pub users: Vec<(i64, String)>,
    /// The id imported under `--on-conflict keep-newest-login`.
    pub kept: Option<i64>,
}

/// Everything an import would do and every problem it found.
#[derive(Debug, Default)]
pub struct Plan {
    pub batch: ImportBatch,
    pub source_users: usize,
    /// Present in imhotep with identical columns.
    pub unchanged: usize,
    /// Present in imhotep with other columns, left alone (without `--update`).
    pub differing: Vec<i64>,
    /// Django ids whose e-mail key belongs to another imhotep user: (Django id, imhotep id, e-mail).
    pub taken: Vec<(i64, i64, String)>,
    /// Users that cannot be imported: (id, why).
    pub invalid: Vec<(i64, String)>,
    pub conflicts: Vec<Conflict>,
    /// Whether the conflicts stop the import (no `--on-conflict`).
    pub blocked: bool,
    pub source_tokens: usize,
    pub source_blacklisted: usize,
}

impl Plan {
    /// Users not written for any reason.
    pub fn skipped(&self) -> usize {
        self.source_users
            - self.batch.new_users.len()
            - self.batch.changed_users.len()
            - self.unchanged
            - self.differing.len()
    }
}

/// Django's `AbstractUser` column limits that imhotep's schema enforces too.
const MAX_NAME_CHARS: usize = 150;
const MAX_PASSWORD_CHARS: usize = 255;

/// Plans the import of `source` (with its tokens and blacklist) into a store holding `existing`.
pub fn plan(
    source: Vec<User>,
    tokens: Vec<ImportedToken>,
    blacklist: Vec<ImportedBlacklisting>,
    existing: &[User],
    on_conflict: Option<OnConflict>,
    update: bool,
) -> Plan {
    let mut plan = Plan {
        source_users: source.len(),
        source_tokens: tokens.len(),
        source_blacklisted: blacklist.len(),
        ..Plan::default()
    };
    let mut by_key: BTreeMap<String, Vec<ImportedUser>> = BTreeMap::new();
    for user in source {
        match problem(&user) {
            Some(why) => plan.invalid.push((user.id, why)),
            None => {
                let email_key = Email::parse(&user.email)
                    .map(|email| email.key().to_owned())
                    .unwrap_or_default();
                by_key
                    .entry(email_key.clone())
                    .or_default()
                    .push(ImportedUser { user, email_key });
            }
        }
    }
    let existing_by_id: HashMap<i64, &User> = existing.iter().map(|u| (u.id, u)).collect();
    let existing_by_key: HashMap<String, i64> = existing
        .iter()
        .filter_map(|u| Some((Email::parse(&u.email)?.key().to_owned(), u.id)))
        .collect();
    let mut dropped = std::collections::HashSet::new();
    for (key, mut group) in by_key {
        if group.len() > 1 {
            group.sort_by_key(|imported| imported.user.id);
            let newest = group
                .iter()
                .max_by_key(|imported| (imported.user.last_login, imported.user.id))
                .map(|imported| imported.user.id);
            let kept = (on_conflict == Some(OnConflict::KeepNewestLogin))
                .then_some(newest)
                .flatten();
            plan.conflicts.push(Conflict {
                users: group.iter().map(|i| (i.user.id, i.user.email.clone())).collect(),
                kept,
            });
            if on_conflict.is_none() {
                plan.blocked = true;
            }
            group.retain(|imported| {
                let keep = Some(imported.user.id) == kept;
                if !keep {
                    dropped.insert(imported.user.id);
                }
                keep
            });
        }
        for imported in group {
            let id = imported.user.id;
            if let Some(owner) = existing_by_key.get(&key).filter(|owner| **owner != id) {
                plan.taken.push((id, *owner, imported.user.email.clone()));
                dropped.insert(id);
                continue;
            }
            match existing_by_id.get(&id) {
                None => plan.batch.new_users.push(imported),
                Some(present) if same_django_columns(present, &imported.user) => plan.unchanged += 1,
                Some(_) if update => plan.batch.changed_users.push(imported),
                Some(_) => plan.differing.push(id),
            }
        }
    }
    dropped.extend(plan.invalid.iter().map(|(id, _)| *id));
    plan.batch.new_users.sort_by_key(|imported| imported.user.id);
    plan.batch.tokens = tokens
        .into_iter()
        .map(|mut token| {
            // A token of a user who is not imported must not attach to an imhotep user that
            // happens to have the same id.
            if token.user_id.is_some_and(|id| dropped.contains(&id)) {
                token.user_id = None;
            }
            token
        })
        .collect();
    plan.batch.blacklist = blacklist;
    plan
}

/// Whether an imhotep row holds exactly the Django row's columns (imhotep's own columns, such as a
/// suspension or an address waiting for confirmation, are not Django's and are never overwritten).
fn same_django_columns(present: &User, django: &User) -> bool {
    let comparable = User {
        suspended_at: present.suspended_at,
        pending_email: present.pending_email.clone(),
        ..django.clone()
    };
    *present == comparable
}

/// Why a Django row cannot become an imhotep user, if it cannot.
fn problem(user: &User) -> Option<String> {
    if Email::parse(&user.email).is_none() {
        return Some(if user.email.is_empty() {
            "no e-mail address (imhotep logs in by e-mail)".to_owned()
        } else {
            format!("invalid e-mail address {:?}", user.email)
        });
    }
    if user.email.chars().count() > MAX_EMAIL_CHARS {
        return Some(format!("e-mail address longer than {MAX_EMAIL_CHARS} characters"));
    }
    for (field, value) in [
        ("username", &user.username),
        ("first_name", &user.first_name),
        ("last_name", &user.last_name),
    ] {
        if value.chars().count() > MAX_NAME_CHARS {
            return Some(format!("{field} longer than {MAX_NAME_CHARS} characters"));
        }
    }
    if user.password.chars().count() > MAX_PASSWORD_CHARS {
        return Some(format!("password hash longer than {MAX_PASSWORD_CHARS} characters"));
    }
    None
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;

    fn user(id: i64, email: &str, last_login_day: Option<u32>) -> User {
        User {
            id,
            email: email.to_owned(),
            username: String::new(),
            first_name: String::new(),
            last_name: String::new(),
            password: "pbkdf2_sha256$1000$salt$hash".to_owned(),
            is_active: true,
            is_staff: false,
            is_superuser: false,
            last_login: last_login_day.map(|day| Utc.with_ymd_and_hms(2025, 1, day, 0, 0, 0).unwrap()),
            date_joined: Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap(),
            suspended_at: None,
            pending_email: None,
        }
    }

    fn ids(users: &[ImportedUser]) -> Vec<i64> {
        users.iter().map(|u| u.user.id).collect()
    }

    #[test]
    fn case_conflicts_block_unless_told_how_to_resolve_them() {
        let source = || {
            vec![
                user(1, "Bob@example.com", Some(3)),
                user(2, "bob@example.com", Some(5)),
                user(3, "BOB@example.com", None),
                user(4, "carol@example.com", None),
            ]
        };
        let blocked = plan(source(), vec![], vec![], &[], None, false);
        assert!(blocked.blocked);
        assert_eq!(
            blocked.conflicts[0].users.iter().map(|u| u.0).collect::<Vec<_>>(),
            [1, 2, 3]
        );
        let newest = plan(source(), vec![], vec![], &[], Some(OnConflict::KeepNewestLogin), false);
        assert!(!newest.blocked);
        assert_eq!(ids(&newest.batch.new_users), [2, 4]);
        assert_eq!(newest.skipped(), 2);
        let skip = plan(source(), vec![], vec![], &[], Some(OnConflict::Skip), false);
        assert_eq!(ids(&skip.batch.new_users), [4]);
        assert_eq!(skip.skipped(), 3);
    }

    #[test]
    fn present_rows_are_skipped_when_identical_and_reported_when_different() {
        let existing = [user(1, "a@example.com", Some(1)), user(2, "b@example.com", None)];
        let source = || vec![user(1, "a@example.com", Some(1)), user(2, "b@example.com", Some(9))];
        let again = plan(source(), vec![], vec![], &existing, None, false);
        assert_eq!((again.unchanged, again.differing.clone()), (1, vec![2]));
        assert!(again.batch.new_users.is_empty() && again.batch.changed_users.is_empty());
        let update = plan(source(), vec![], vec![], &existing, None, true);
        assert_eq!(ids(&update.batch.changed_users), [2]);
    }

    #[test]
    fn invalid_rows_and_taken_addresses_are_reported_and_their_tokens_detached() {
        let existing = [user(7, "taken@example.com", None)];
        let source = vec![
            user(1, "", None),
            user(2, "not an address", None),
            user(3, "TAKEN@example.com", None),
            user(4, "fine@example.com", None),
        ];
        let token = |user_id| ImportedToken {
            jti: format!("jti{user_id}"),
            user_id: Some(user_id),
            created_at: None,
            expires_at: Utc::now(),
        };
        let planned = plan(source, vec![token(3), token(4)], vec![], &existing, None, false);
        assert_eq!(planned.invalid.iter().map(|i| i.0).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(planned.taken, [(3, 7, "TAKEN@example.com".to_owned())]);
        assert_eq!(ids(&planned.batch.new_users), [4]);
        let owners: Vec<_> = planned.batch.tokens.iter().map(|t| t.user_id).collect();
        assert_eq!(owners, [None, Some(4)]);
    }
}
