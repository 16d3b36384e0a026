//! The command line: argument definitions, one module per command, and what every command
//! shares: where grammars and rule sets are found (and saying which were loaded).

#[macro_use]
mod out;
mod agents;
mod analyze;
mod audit;
mod cas;
mod grammars;
mod ingest;
mod letters;
mod purge;
mod reconcile;
mod rules;
mod status;
mod store;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use vigie::Setup;

/// Exit codes (docs/formats/report.md).
pub const EXIT_CANNOT_RUN: u8 = 1;
pub const EXIT_USAGE: u8 = 2;
pub const EXIT_FOUND: u8 = 3;
/// The agent named may not do this (unknown, disabled, or a role below the one needed).
pub const EXIT_REFUSED: u8 = 4;

#[derive(Debug, Parser)]
#[command(
    name = "vigie",
    version,
    about = "Finds anomalies in Assurance Maladie back-office flows (Flux tiers, CAS).",
    long_about = "vigie decodes exchange files (B2 lots, SCOR index, NOEMIE returns, CAS data) with \
the grammars of grammars/, runs the Rhai rule sets of rules/ on them and reports anomalies, \
guidance and conflicts.\n\nStart with:  vigie analyze examples/",
    after_help = "Folders: --grammars and --rules (or VIGIE_GRAMMARS, VIGIE_RULES) name them; without, \
vigie takes grammars/ and rules/ in the working directory, else beside the vigie binary, and says \
on stderr which it loaded.\n\nExit codes: 0 analysis ran, 1 could not run (no readable input, \
invalid rule set or grammar), 2 usage error, 3 an outcome at or above --fail-on was found, 4 the \
agent named may not do this (unknown, disabled, role too low).\n\nThe store (ingest, reconcile, status, \
letters, agents, audit, purge): --store or VIGIE_STORE, sqlite:vigie.db in the working directory by \
default; the acting agent: --agent or VIGIE_AGENT."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Analyse files or folders and report what the rules find.
    Analyze(analyze::Args),
    /// Write the CAS returns to the organisms and the participations of the doctors.
    Cas(cas::Args),
    /// Write the letters: to each PS about its invoices, to each doctor about the CAS.
    Letters(letters::Args),
    /// Work on rule sets: check, test, list.
    #[command(subcommand)]
    Rules(rules::Command),
    /// Work on grammars: document the formats they describe.
    #[command(subcommand)]
    Grammars(grammars::Command),
    /// Record received files in the store (each once, one transaction per file).
    Ingest(ingest::Args),
    /// Run the rule sets over what the store holds on a day, report, keep what changed.
    Reconcile(reconcile::Args),
    /// Show what the store knew on a day: awaited, missing, rejected, guided, sent.
    Status(status::Args),
    /// Manage the agents who act (add, list, disable).
    #[command(subcommand)]
    Agents(agents::Command),
    /// Query the audit trail, or verify it.
    Audit(audit::Args),
    /// Delete what is older than the retention period (36 months).
    Purge(purge::Args),
}

/// Where grammars and rule sets come from, shared by every command.
#[derive(Debug, clap::Args)]
pub struct Folders {
    /// Folder of grammar files [default: ./grammars, else beside the vigie binary].
    #[arg(long, value_name = "DIR", env = "VIGIE_GRAMMARS")]
    grammars: Option<PathBuf>,
    /// Rule-set folder, or a folder of rule sets [default: ./rules, else beside the vigie
    /// binary].
    #[arg(long, value_name = "DIR", env = "VIGIE_RULES")]
    pub rules: Option<PathBuf>,
}

/// Grammars and rule sets, loaded, and the rules folder they came from.
pub struct Loaded {
    pub setup: Setup,
    pub rules_dir: PathBuf,
}

/// `name` in the working directory, else beside the binary.
fn default_dir(name: &str) -> Option<PathBuf> {
    let here = Path::new(name);
    if here.is_dir() {
        return Some(here.to_path_buf());
    }
    let exe = std::env::current_exe().ok()?;
    exe.parent().map(|d| d.join(name)).filter(|p| p.is_dir())
}

pub fn resolve(given: &Option<PathBuf>, name: &str, option: &str) -> Result<PathBuf, String> {
    match given {
        Some(d) => Ok(d.clone()),
        None => default_dir(name).ok_or_else(|| {
            format!("dossier {name}/ introuvable dans le dossier de travail ni à côté du binaire ; indiquez-le avec {option} DIR")
        }),
    }
}

pub fn shown(p: &Path) -> String {
    std::fs::canonicalize(p)
        .unwrap_or_else(|_| p.to_path_buf())
        .display()
        .to_string()
}

impl Folders {
    /// Loads the grammars and the rule sets, says on stderr which folders were read (unless
    /// `quiet`), and explains every fault of every file.
    pub fn load(&self, quiet: bool) -> Result<Loaded, String> {
        let gdir = resolve(&self.grammars, "grammars", "--grammars")?;
        let rdir = resolve(&self.rules, "rules", "--rules")?;
        let setup = Setup::load(&gdir, &rdir).map_err(|f| {
            format!(
                "grammaires ({}) ou règles ({}) refusées :\n{f}",
                shown(&gdir),
                shown(&rdir)
            )
        })?;
        if !quiet {
            say!(
                "vigie: grammaires {} ; règles {} ({})",
                shown(&gdir),
                shown(&rdir),
                setup
                    .sets
                    .iter()
                    .map(|s| s.id.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        Ok(Loaded {
            setup,
            rules_dir: rdir,
        })
    }
}

impl Folders {
    /// The grammars alone (commands that read files without rules); the fault said on stderr.
    pub fn load_grammars(&self, quiet: bool) -> Result<vigie::model::GrammarSet, ExitCode> {
        let fail = |m: String| {
            say!("vigie: {m}");
            ExitCode::from(EXIT_CANNOT_RUN)
        };
        let gdir = resolve(&self.grammars, "grammars", "--grammars").map_err(fail)?;
        let set = Setup::grammars(&gdir)
            .map_err(|f| fail(format!("grammaires ({}) refusées :\n{f}", shown(&gdir))))?;
        if !quiet {
            say!("vigie: grammaires {}", shown(&gdir));
        }
        Ok(set)
    }
}

/// The files named by `paths` (a usage error when one does not exist), the walk's warnings
/// said on stderr unless `quiet`.
pub fn walk(paths: &[PathBuf], quiet: bool) -> Result<vigie::Walk, ExitCode> {
    match vigie::expand_paths(paths) {
        Ok(w) => {
            if !quiet {
                for warning in &w.warnings {
                    say!("vigie: {warning}");
                }
            }
            Ok(w)
        }
        Err(m) => {
            say!("vigie: {m}");
            Err(ExitCode::from(EXIT_USAGE))
        }
    }
}

impl Folders {
    /// The grammars and rule sets, then the files of `paths`; what went wrong is said on
    /// stderr and given as the exit code.
    pub fn load_with(
        &self,
        paths: &[PathBuf],
        quiet: bool,
    ) -> Result<(Loaded, vigie::Walk), ExitCode> {
        let loaded = self.load(quiet).map_err(|m| {
            say!("vigie: {m}");
            ExitCode::from(EXIT_CANNOT_RUN)
        })?;
        Ok((loaded, walk(paths, quiet)?))
    }
}

/// Runs the command.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Analyze(a) => analyze::run(a),
        Command::Cas(a) => cas::run(a),
        Command::Letters(a) => letters::run(a),
        Command::Rules(c) => rules::run(c),
        Command::Grammars(c) => grammars::run(c),
        Command::Ingest(a) => ingest::run(a),
        Command::Reconcile(a) => reconcile::run(a),
        Command::Status(a) => status::run(a),
        Command::Agents(c) => agents::run(c),
        Command::Audit(a) => audit::run(a),
        Command::Purge(a) => purge::run(a),
    }
}
