//! The `imhotep` binary: parse the command line, run it, report failure with a non-zero exit.

use clap::Parser;

fn main() -> std::process::ExitCode {
    return_large_allocations_to_the_os();
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

/// Each password hash allocates argon2's 19 MiB work area. glibc's malloc would keep those blocks in
/// per-thread arenas of the blocking pool after they are freed (hundreds of MiB after a burst of
/// logins); serving allocations of 1 MiB and more with mmap hands them back to the OS on free.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_allocations_to_the_os() {
    // SAFETY: mallopt only adjusts allocator tuning; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 1 << 20);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_os() {}
