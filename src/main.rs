//! The `imhotep` binary: parse the command line, run it, report failure with a non-zero exit.

use clap::Parser;

/// mimalloc instead of glibc's malloc: less server CPU per request and per login in the benchmarks
/// (bench/history.md, issue 11's second session), with no allocator tuning at start-up. Built with
/// `no_thp` (Cargo.toml): with transparent huge pages its idle RSS nearly doubled.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let_advised_memory_use_huge_pages();
    let cli = imhotep::cli::Cli::parse();
    let outcome = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|runtime| runtime.block_on(imhotep::cli::run(cli)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// mimalloc (`no_thp`) turns transparent huge pages off for the whole process when it starts, which
/// is before `main`. This turns them back on for the memory that asks for them with `MADV_HUGEPAGE`:
/// the Argon2 work areas, where they make each hash cheaper (bench/history.md, issue 11's
/// fourteenth session). The allocator's own memory never asks, so its RSS stays as it was.
///
/// Linux 6.18 has a flag for exactly this. On older kernels the switch is only turned back on where
/// the system's THP mode is `madvise`, which gives huge pages to nothing that did not ask; under
/// `always` it stays off and the work areas use ordinary pages.
fn let_advised_memory_use_huge_pages() {
    #[cfg(target_os = "linux")]
    {
        use libc::{PR_SET_THP_DISABLE, c_ulong, prctl};
        /// `PR_THP_DISABLE_EXCEPT_ADVISED` (linux/prctl.h, 6.18), not yet in the libc crate.
        const EXCEPT_ADVISED: c_ulong = 1 << 1;
        // SAFETY: PR_SET_THP_DISABLE takes plain integers and changes only this process's THP policy.
        let narrowed = unsafe {
            prctl(
                PR_SET_THP_DISABLE,
                1 as c_ulong,
                EXCEPT_ADVISED,
                0 as c_ulong,
                0 as c_ulong,
            )
        } == 0;
        let advised_only = || {
            std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
                .is_ok_and(|modes| modes.contains("[madvise]"))
        };
        if !narrowed && advised_only() {
            // SAFETY: as above.
            unsafe {
                prctl(
                    PR_SET_THP_DISABLE,
                    0 as c_ulong,
                    0 as c_ulong,
                    0 as c_ulong,
                    0 as c_ulong,
                )
            };
        }
    }
}
