//! `vigie analyze`: decode files, run the rule sets, write the report.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use chrono::NaiveDate;

use super::out::to_stdout;
use super::{rules_dir, GrammarArgs, EXIT_CANNOT_RUN, EXIT_FOUND, EXIT_USAGE};
use vigie::outcome::{Kind, Severity};
use vigie::pipeline::{self, Options};
use vigie::report::{self, Format};

#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  vigie analyze examples/\n  vigie analyze --as-of 2026-11-20 --format jsonl lots/*.b2 pieces.scor.csv\n  vigie analyze --fail-on rejet --format csv --output rapport.csv depot/"
)]
pub struct Args {
    /// Files or folders to analyse, in any mix of formats (folders are walked, sorted by name).
    /// The PJ index, NOEMIE returns and CAS files are read first and joined; B2 lots are read in
    /// the order given, which is the order FAC-DBL counts repeats in.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Rule-set folder, or a folder of rule sets [default: ./rules, or beside the vigie binary].
    #[arg(long, value_name = "DIR", env = "VIGIE_RULES")]
    rules: Option<PathBuf>,
    #[command(flatten)]
    grammars: GrammarArgs,
    /// Imposes a grammar (by its `format` name) on every file instead of recognising it.
    #[arg(long, value_name = "NAME")]
    grammar: Option<String>,
    /// Date the analysis is made at (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Writes the report to FILE instead of standard output.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exits with 3 when an outcome of this severity or worse is found.
    #[arg(long, value_name = "SEVERITY", value_parser = parse_severity)]
    fail_on: Option<Severity>,
    /// Worker threads evaluating rules [default: number of cores].
    #[arg(long, short, value_name = "N")]
    jobs: Option<usize>,
    /// No progress bar on stderr.
    #[arg(long, short)]
    quiet: bool,
}

fn parse_date(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("« {s} » n'est pas une date AAAA-MM-JJ"))
}

fn parse_severity(s: &str) -> Result<Severity, String> {
    match s {
        "rejet" => Ok(Severity::Rejet),
        "signalement" => Ok(Severity::Signalement),
        "info" => Ok(Severity::Info),
        _ => Err(format!("« {s} » : gravité rejet, signalement ou info")),
    }
}

pub fn run(a: Args) -> ExitCode {
    let fail = |code: u8, msg: String| {
        eprintln!("vigie: {msg}");
        ExitCode::from(code)
    };
    let grammars = match a.grammars.load() {
        Ok(g) => g,
        Err(m) => return fail(EXIT_CANNOT_RUN, m),
    };
    let forced = match &a.grammar {
        Some(name) => match grammars.get(name).filter(|g| !g.synthetic) {
            Some(g) => Some(Arc::clone(g)),
            None => {
                let known: Vec<&str> = grammars
                    .grammars
                    .iter()
                    .filter(|g| !g.synthetic)
                    .map(|g| g.name.as_str())
                    .collect();
                return fail(
                    EXIT_USAGE,
                    format!(
                        "--grammar {name} : grammaire inconnue (connues : {})",
                        known.join(", ")
                    ),
                );
            }
        },
        None => None,
    };
    let sets = match rules_dir(&a.rules).and_then(|d| {
        vigie::rules::load_all(&d, &grammars).map_err(|f| format!("jeu de règles refusé :\n{f}"))
    }) {
        Ok(s) => s,
        Err(m) => return fail(EXIT_CANNOT_RUN, m),
    };
    let files = match pipeline::expand_paths(&a.paths) {
        Ok(f) => f,
        Err(m) => return fail(EXIT_USAGE, m),
    };
    let jobs = a
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
        .max(1);
    let opts = Options {
        jobs,
        as_of: a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive()),
        forced,
        progress: !a.quiet,
        decode_only: false,
    };
    let analysis = pipeline::run(&files, &grammars, &sets, &opts);
    match &a.output {
        Some(path) => {
            let written = File::create(path).and_then(|f| {
                let mut w = BufWriter::new(f);
                report::write(a.format, &analysis.outcomes, &mut w)?;
                w.flush()
            });
            if let Err(e) = written {
                return fail(
                    EXIT_CANNOT_RUN,
                    format!("{} : écriture du rapport impossible : {e}", path.display()),
                );
            }
        }
        None => {
            if let Err(code) = to_stdout(|w| report::write(a.format, &analysis.outcomes, w)) {
                return code;
            }
        }
    }
    let count = |k: Kind| analysis.outcomes.iter().filter(|o| o.kind == k).count();
    if !a.quiet {
        eprintln!(
            "vigie: {} fichier(s), {} anomalie(s), {} consigne(s), {} conflit(s), {} erreur(s) de lecture ou de règle — {}",
            analysis.files,
            count(Kind::Anomaly),
            count(Kind::Guidance),
            count(Kind::Conflict),
            count(Kind::Error),
            sets.iter().map(|s| s.id.to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    if analysis.readable_files == 0 {
        return fail(EXIT_CANNOT_RUN, "aucune entrée lisible".into());
    }
    if let Some(threshold) = a.fail_on {
        if analysis.outcomes.iter().any(|o| o.severity <= threshold) {
            return ExitCode::from(EXIT_FOUND);
        }
    }
    ExitCode::SUCCESS
}
