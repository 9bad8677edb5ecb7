//! The shipped binary's Argon2 work areas are backed by transparent huge pages where the kernel
//! gives them to memory that asks (THP mode `madvise` or `always`).

use crate::binary::{Server, production, sqlite_url};
use crate::helpers::announce_skip;

/// The anonymous memory of process `pid` backed by transparent huge pages, in kB (smaps_rollup).
fn anon_huge_pages_kb(pid: u32) -> u64 {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).expect("smaps_rollup");
    rollup
        .lines()
        .find_map(|line| line.strip_prefix("AnonHugePages:"))
        .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("an AnonHugePages line")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_hashes_in_memory_backed_by_huge_pages() {
    let modes = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled").unwrap_or_default();
    if !modes.contains("[madvise]") && !modes.contains("[always]") {
        // `never`, or a kernel built without THP: nothing the server can change.
        announce_skip("this machine's kernel gives no process transparent huge pages");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = sqlite_url(&dir, "pages.db");
    let server = Server::start(&production(&url, &[])).await;
    let before = anon_huge_pages_kb(server.pid());

    // An unknown address still costs one Argon2 verification (against a dummy hash).
    let answer = reqwest::Client::new()
        .post(format!("{}/api/auth/jwt/create/", server.address))
        .json(&serde_json::json!({"email": "nobody@example.com", "password": "Tr1cky-Horse-Battery-9"}))
        .send()
        .await
        .expect("the login is answered");
    assert_eq!(answer.status(), 401);

    // One work area is 19 MiB: ten 2 MiB pages when all of it is backed by huge pages. (Under
    // `always`, other memory may have some too: only what the hash added counts.)
    let added = anon_huge_pages_kb(server.pid()).saturating_sub(before);
    assert!(added >= 16 * 1024, "{added} kB of anonymous huge pages added by a hash");
}
