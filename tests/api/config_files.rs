//! `.env.example` stays true: every setting `imhotep check` prints has its variable there, and every
//! variable there, set to the value it shows, is accepted by the real binary (unknown keys are errors).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::binary;

/// Django's plain names and the setting each fills (the README's table).
const PLAIN: &[(&str, &str)] = &[
    ("HOST", "server.host"),
    ("PORT", "server.port"),
    ("DATABASE_URL", "database.url"),
    ("SECRET_KEY", "secret_key"),
    ("DEBUG", "debug"),
    ("EMAIL_BACKEND", "email.backend"),
    ("EMAIL_HOST", "email.host"),
    ("EMAIL_PORT", "email.port"),
    ("EMAIL_HOST_USER", "email.host_user"),
    ("EMAIL_HOST_PASSWORD", "email.host_password"),
    ("EMAIL_USE_TLS", "email.use_tls"),
    ("EMAIL_USE_SSL", "email.use_ssl"),
    ("DEFAULT_FROM_EMAIL", "email.default_from_email"),
];

/// `(name, value)` of every `NAME=value` and `# NAME=value` line.
fn variables(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start_matches('#').trim();
            let (name, value) = line.split_once('=')?;
            let is_name = name.starts_with(|c: char| c.is_ascii_uppercase())
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            is_name.then(|| (name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// `section.key` paths of every leaf setting in `check`'s JSON.
fn setting_paths(value: &Value, prefix: &str, paths: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(object) => {
            for (key, child) in object {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                setting_paths(child, &path, paths);
            }
        }
        None => {
            paths.insert(prefix.to_owned());
        }
    }
}

#[test]
fn env_example_names_every_setting_and_only_real_ones() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.env.example")).expect(".env.example");
    let variables = variables(&text);
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = crate::binary::sqlite_url(&dir, "env.db");
    let secret = crate::helpers::SECRET_KEY;
    let mut env: Vec<(&str, &str)> = variables
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    env.extend([("DATABASE_URL", database_url.as_str()), ("SECRET_KEY", secret)]);
    let (ok, output) = binary::run(&["check"], &env);
    assert!(ok, "imhotep check refused .env.example's values:\n{output}");

    let json = output
        .get(output.find('{').unwrap_or(0)..=output.rfind('}').unwrap_or(0))
        .unwrap_or_default();
    let settings: Value = serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {output}"));
    let mut paths = BTreeSet::new();
    setting_paths(&settings, "", &mut paths);
    let names: BTreeSet<&str> = variables.iter().map(|(name, _)| name.as_str()).collect();
    let missing: Vec<String> = paths
        .iter()
        .map(|path| match PLAIN.iter().find(|(_, plain)| plain == path) {
            Some((name, _)) => (*name).to_owned(),
            None => format!("IMHOTEP_{}", path.replace('.', "__").to_ascii_uppercase()),
        })
        .filter(|name| !names.contains(name.as_str()))
        .collect();
    assert!(missing.is_empty(), ".env.example lacks {missing:?}");
}
