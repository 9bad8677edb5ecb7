//! Where template sources come from: the built-in files embedded with `include_str!`, or the same names in
//! an override directory.

use std::path::{Path, PathBuf};

use super::error::MailError;
use super::message::EmailKind;

/// The three parts of one kind, as file suffixes after the kind's name.
const PARTS: [&str; 3] = [".subject.txt", ".txt", ".html"];

macro_rules! built_in {
    ($name:literal) => {
        [
            include_str!(concat!("templates/", $name, ".subject.txt")),
            include_str!(concat!("templates/", $name, ".txt")),
            include_str!(concat!("templates/", $name, ".html")),
        ]
    };
}

/// The built-in sources, in the order of [`EmailKind::ALL`] then [`PARTS`].
const BUILT_IN: [[&str; 3]; 13] = [
    built_in!("activation"),
    built_in!("confirmation"),
    built_in!("password_reset"),
    built_in!("password_changed_confirmation"),
    built_in!("username_changed_confirmation"),
    built_in!("username_reset"),
    built_in!("email_change_confirmation"),
    built_in!("email_change_notice"),
    built_in!("registration_attempt"),
    built_in!("mfa_factor_added"),
    built_in!("mfa_factor_removed"),
    built_in!("mfa_recovery_codes_regenerated"),
    built_in!("mfa_recovery_code_used"),
];

/// The source of `part` (0 subject, 1 text, 2 HTML) of `kind`: the override file in `dir` if it exists,
/// else the built-in one (with a path naming it in errors).
pub(super) fn read_part(dir: Option<&Path>, kind: EmailKind, part: usize) -> Result<(PathBuf, String), MailError> {
    let file = format!("{}{}", kind.name(), PARTS[part]);
    if let Some(path) = dir.map(|dir| dir.join(&file)) {
        match std::fs::read_to_string(&path) {
            Ok(source) => return Ok((path, source)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(invalid(&path, e)),
        }
    }
    Ok((
        PathBuf::from(format!("(built-in) {file}")),
        BUILT_IN[kind as usize][part].to_owned(),
    ))
}

pub(super) fn invalid(path: &Path, reason: impl ToString) -> MailError {
    MailError::Template {
        path: path.to_owned(),
        reason: reason.to_string(),
    }
}

/// Refuses `.txt` / `.html` files of `dir` that are not template names (typos would be ignored otherwise).
pub(super) fn check_names(dir: &Path) -> Result<(), MailError> {
    let dir_error = |source| MailError::TemplateDir {
        path: dir.to_owned(),
        source,
    };
    for entry in std::fs::read_dir(dir).map_err(dir_error)? {
        let name = entry.map_err(dir_error)?.file_name();
        let name = name.to_string_lossy();
        let known = EmailKind::ALL
            .iter()
            .any(|kind| PARTS.iter().any(|part| name == format!("{}{part}", kind.name())));
        if !known && (name.ends_with(".txt") || name.ends_with(".html")) {
            return Err(invalid(
                &dir.join(&*name),
                "not a template name (e.g. activation.subject.txt)",
            ));
        }
    }
    Ok(())
}
