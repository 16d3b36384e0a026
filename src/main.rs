//! `vigie`: one binary, one subcommand per job.

mod cli;

/// mimalloc: vigie allocates many small values per record, and frees them on other threads;
/// glibc's allocator spent a fifth of an ingest in malloc and free.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    std::panic::set_hook(Box::new(|info| {
        // A panic inside a rule is reported as that rule's failure; anything else is a bug of
        // vigie. Never print the panic's own text: it could quote input data.
        if vigie::panic_is_contained() {
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" ({}:{})", l.file(), l.line()))
            .unwrap_or_default();
        // A closed standard error must not turn a panic into an abort.
        let _ = writeln!(
            std::io::stderr(),
            "vigie: erreur interne{at} ; merci de la signaler"
        );
    }));
    let args = cli::Cli::parse();
    cli::run(args)
}
