//! The `imhotep` binary: parse the command line, run it, report failure with a non-zero exit.

use clap::Parser;

/// mimalloc instead of glibc's malloc: fewer cycles per request (the request path allocates and
/// frees small buffers from many threads), and memory freed by a burst of requests goes back to
/// the OS without glibc's per-thread arenas holding it (BENCHMARKS.md, "what moved the numbers").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
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
