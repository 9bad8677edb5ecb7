//! Rebuild when a migration is added: `sqlx::migrate!` only notices edits to files it already embeds.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
