//! `imhotep import-django`: copies a Django deployment's users (ids, password hashes, timestamps
//! byte for byte, so sessions and e-mailed links stay valid) and SimpleJWT's outstanding and
//! blacklisted refresh tokens into imhotep's store, in one transaction.
//!
//! The source is only read ([`source`]); what to write is decided without I/O ([`plan`]); the
//! writing goes through [`Store::import_batch`]. Progress and the summary go to the terminal.
//! [`compat`] is `imhotep check --django-compat`.

pub mod compat;
mod plan;
mod source;

use std::time::Instant;

use anyhow::bail;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use crate::app::connect_store;
use crate::config::{Settings, mask_url};
use crate::store::{Store, StoreError};

pub use plan::OnConflict;
use plan::Plan;
use source::Source;

/// What `imhotep import-django` is asked to do.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The Django database: postgres://user:password@host:5432/db or sqlite://path/to/db.sqlite3
    /// (opened read-only).
    #[arg(long, value_name = "URL")]
    pub from: String,
    /// The user table (default: auth_user, or the only table with Django's user columns).
    #[arg(long, value_name = "TABLE")]
    pub user_table: Option<String>,
    /// The user table's e-mail column.
    #[arg(long, value_name = "COLUMN", default_value = "email")]
    pub email_field: String,
    /// Print what would be imported and every problem, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Overwrite users already in imhotep whose columns differ from Django's (default: report them
    /// and leave them alone).
    #[arg(long)]
    pub update: bool,
    /// How to resolve Django users whose e-mails differ only in case (default: stop and list them).
    #[arg(long, value_enum, value_name = "HOW")]
    pub on_conflict: Option<OnConflict>,
}

/// Runs the import against the configured imhotep database (migrating it first).
pub async fn run(settings: &Settings, args: ImportArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut source = Source::open(&args.from)
        .await
        .map_err(|error| anyhow::anyhow!("opening the Django database {}: {error:#}", mask_url(&args.from)))?;
    let table = source.user_table(args.user_table.as_deref(), &args.email_field).await?;
    let users = source.users(&table).await?;
    let tokens = source.tokens().await?;
    let blacklist = source.blacklist().await?;
    println!(
        "read {} user(s) from table {}, {} outstanding token(s), {} blacklisted",
        users.len(),
        table.name,
        tokens.len(),
        blacklist.len()
    );
    let missing = table.missing_optional();
    if !missing.is_empty() {
        println!(
            "note: {} has no {} column(s); Django's defaults are used (date_joined: now)",
            table.name,
            missing.join(", ")
        );
    }
    let store = connect_store(settings).await?;
    store.migrate().await?;
    let existing = store.list_users().await?;
    let plan = plan::plan(users, tokens, blacklist, &existing, args.on_conflict, args.update);
    report_problems(&plan, &table.name, &table.email_field);
    if plan.blocked {
        bail!(
            "import stopped, nothing written: {} group(s) of users whose e-mails differ only in case",
            plan.conflicts.len()
        );
    }
    if args.dry_run {
        println!(
            "dry run, nothing written: would import {} new user(s), update {}, leave {} unchanged, skip {}; \
             copy up to {} token(s) and {} blacklisting(s)",
            plan.batch.new_users.len(),
            plan.batch.changed_users.len(),
            plan.unchanged,
            plan.skipped() + plan.differing.len(),
            plan.source_tokens,
            plan.source_blacklisted
        );
        return Ok(());
    }
    let counts = write(&store, &plan).await?;
    println!(
        "imported: users {} new, {} updated, {} unchanged, {} skipped, {} conflict group(s); \
         tokens {} new of {}; blacklisted {} new of {}; {:.1} s",
        counts.users_inserted,
        counts.users_updated,
        plan.unchanged,
        plan.skipped() + plan.differing.len(),
        plan.conflicts.len(),
        counts.tokens_inserted,
        plan.source_tokens,
        counts.blacklisted_inserted,
        plan.source_blacklisted,
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Writes the plan in one transaction behind a progress bar (drawn only on a terminal).
async fn write(store: &Store, plan: &Plan) -> anyhow::Result<crate::store::models::ImportCounts> {
    let batch = &plan.batch;
    let rows = batch.new_users.len() + batch.changed_users.len() + batch.tokens.len() + batch.blacklist.len();
    let bar = ProgressBar::new(rows as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} rows {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let outcome = store.import_batch(batch, &|done| bar.inc(done)).await;
    bar.finish_and_clear();
    match outcome {
        Ok(counts) => Ok(counts),
        Err(StoreError::EmailTaken) => bail!(
            "import rolled back, nothing written: an imported e-mail address was registered in imhotep meanwhile; run the import again"
        ),
        Err(other) => Err(anyhow::Error::new(other).context("import rolled back, nothing written")),
    }
}

/// Prints every problem the plan found, with the ids to look at.
fn report_problems(plan: &Plan, table: &str, email_field: &str) {
    for (id, why) in &plan.invalid {
        println!("skipped: user {id}: {why}");
    }
    for (id, owner, email) in &plan.taken {
        println!("skipped: user {id}: the address {email} belongs to imhotep user {owner}");
    }
    for id in &plan.differing {
        println!("differs: user {id} is already in imhotep with other values; left alone (--update replaces it)");
    }
    for conflict in &plan.conflicts {
        let users: Vec<String> = conflict
            .users
            .iter()
            .map(|(id, email)| format!("{id} ({email})"))
            .collect();
        let outcome = match (plan.blocked, conflict.kept) {
            (true, _) => String::new(),
            (false, Some(kept)) => format!("; importing {kept}, skipping the others"),
            (false, None) => "; skipping all of them".to_owned(),
        };
        println!(
            "conflict: e-mails differ only in case: users {}{outcome}",
            users.join(", ")
        );
    }
    if plan.blocked {
        println!(
            "fix: imhotep treats e-mail addresses case-insensitively. Give each of these users a distinct address in \
             Django (e.g. UPDATE {table} SET {email_field} = '...' WHERE id = ...; or merge the accounts), or re-run \
             with --on-conflict keep-newest-login (imports the one who logged in last) or --on-conflict skip \
             (imports none of them)."
        );
    }
}
