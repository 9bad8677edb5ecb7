//! The `imhotep` binary: parse the command line, run it, report failure with a non-zero exit.

use clap::Parser;

/// mimalloc instead of glibc's malloc: less server CPU per request and per login in the benchmarks
/// (bench/history.md, issue 11's second session), with no allocator tuning at start-up. Built with
/// `no_thp` (Cargo.toml): with transparent huge pages its idle RSS nearly doubled.
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
