//! The command line: argument definitions and one module per command.

mod analyze;
mod out;
mod rules;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vigie::diag::Faults;
use vigie::grammar::GrammarSet;
use vigie::pipeline::find_default_dir;

/// Exit codes (formats/report.md).
pub const EXIT_CANNOT_RUN: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FOUND: u8 = 3;

#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    version,
    about = "Finds anomalies in Assurance Maladie back-office flows (Flux tiers, CAS).",
    long_about = "vigie decodes exchange files (B2 lots, SCOR index, NOEMIE returns, CAS data) with \
the grammars of grammars/, runs the Rhai rule sets of rules/ on them and reports anomalies, \
guidance and conflicts.\n\nStart with:  vigie analyze examples/",
    after_help = "Exit codes: 0 analysis ran, 1 could not run (no readable input, invalid rule set or grammar), \
2 usage error, 3 an outcome at or above --fail-on was found."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse files or folders and report what the rules find.
    Analyze(analyze::Args),
    /// Work on rule sets: check, test, list.
    #[command(subcommand)]
    Rules(rules::Command),
}

/// Where grammars come from, shared by every command.
#[derive(Debug, clap::Args)]
pub struct GrammarArgs {
    /// Folder of grammar files [default: ./grammars, or beside the vigie binary].
    #[arg(long, value_name = "DIR", env = "VIGIE_GRAMMARS")]
    grammars: Option<PathBuf>,
}

impl GrammarArgs {
    fn load(&self) -> Result<GrammarSet, String> {
        let dir = match &self.grammars {
            Some(d) => d.clone(),
            None => find_default_dir("grammars").ok_or("dossier grammars/ introuvable ici ou à côté du binaire ; indiquez-le avec --grammars DIR")?,
        };
        GrammarSet::load(&dir).map_err(|f: Faults| format!("grammaires refusées :\n{f}"))
    }
}

/// Resolves the rules folder: the option, else ./rules or beside the binary.
fn rules_dir(opt: &Option<PathBuf>) -> Result<PathBuf, String> {
    match opt {
        Some(d) => Ok(d.clone()),
        None => find_default_dir("rules").ok_or_else(|| {
            "dossier rules/ introuvable ici ou à côté du binaire ; indiquez-le avec --rules DIR"
                .to_string()
        }),
    }
}

pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Rules(c) => rules::run(c),
    }
}
