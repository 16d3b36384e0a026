//! Peers side by side (issue 14, item 2): vigie's evaluation of 12 Flux tiers invoice rules
//! beside the same rules in plain Rust (the logic's floor) and in three peer rule engines
//! available as crates — GoRules zen-expression, regorus (Rego) and CEL —, all fed the same
//! facts, checked to fire on exactly the same facts as vigie.
//!
//! ```sh
//! cargo run --release --manifest-path benches/peers/Cargo.toml -- --invoices 100000
//! ```
//!
//! Options: `--invoices N` (default 100 000: a corpus generated with the repository's generator,
//! `benches/support/corpus.rs`, B2 lots only), `--dir DIR` (the `.b2` files of DIR instead),
//! `--runs N` (default 3; the fastest is kept), `--engines vigie,native,zen,rego,cel` (vigie
//! always runs: it is the reference), `--keep` (keep the generated corpus). The analysis date is
//! 2026-11-20, the samples' own. Exits with 1 when an engine disagrees with vigie.
//!
//! What is timed is evaluation alone: the facts are read by vigie once, extracted into plain
//! structs once, converted into each engine's input form before the clock starts (that
//! conversion is shown apart). See README.md beside this file, and `docs/performance.md`.

#[path = "../../support/corpus.rs"]
mod corpus;

mod bench;
mod cel;
mod facts;
mod native;
mod rego;
mod report;
mod rules;
mod ruleset;
mod vigie_eval;
mod zen;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use chrono::NaiveDate;
use vigie::{Options, Setup};

use crate::bench::{measure, Measure};
use crate::facts::Facts;

/// The allocator of the vigie binary, so that vigie's figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The analysis date (the samples' own).
const AS_OF: (i32, u32, u32) = (2026, 11, 20);

/// The engines, in the order they are shown.
const ENGINES: [&str; 5] = ["vigie", "native", "zen", "rego", "cel"];

/// What the command line asks.
struct Args {
    invoices: usize,
    dir: Option<PathBuf>,
    runs: usize,
    engines: Vec<String>,
    keep: bool,
}

fn usage() -> String {
    "usage: vigie-peers [--invoices N] [--dir DIR] [--runs N] [--engines vigie,native,zen,rego,cel] [--keep]".into()
}

fn args() -> Result<Args, String> {
    let mut a = Args {
        invoices: 100_000,
        dir: None,
        runs: 3,
        engines: ENGINES.iter().map(|e| e.to_string()).collect(),
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{arg} needs a value\n{}", usage()))
        };
        match arg.as_str() {
            "--invoices" => {
                a.invoices = value()?
                    .parse()
                    .map_err(|_| format!("--invoices: a number\n{}", usage()))?
            }
            "--dir" => a.dir = Some(PathBuf::from(value()?)),
            "--runs" => {
                a.runs = value()?
                    .parse::<usize>()
                    .map_err(|_| format!("--runs: a number\n{}", usage()))?
                    .max(1)
            }
            "--engines" => {
                a.engines = value()?.split(',').map(|e| e.trim().to_string()).collect();
                if let Some(e) = a.engines.iter().find(|e| !ENGINES.contains(&e.as_str())) {
                    return Err(format!("unknown engine {e}\n{}", usage()));
                }
            }
            "--keep" => a.keep = true,
            "-h" | "--help" => return Err(usage()),
            _ => return Err(format!("unknown argument {arg}\n{}", usage())),
        }
    }
    Ok(a)
}

/// The repository's root (this crate is `benches/peers/`).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The `.b2` files of `dir`, sorted.
fn b2_files(dir: &Path) -> Result<Vec<PathBuf>, String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("b2")))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(format!("{}: no .b2 file", dir.display()));
    }
    Ok(files)
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("vigie-peers: {e}");
            ExitCode::from(2)
        }
    }
}

/// Runs everything; `Ok(false)` when an engine disagrees with vigie.
fn run() -> Result<bool, String> {
    let args = args()?;
    let as_of = NaiveDate::from_ymd_opt(AS_OF.0, AS_OF.1, AS_OF.2).expect("a calendar date");
    let work = std::env::temp_dir().join(format!("vigie-peers-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| format!("{}: {e}", work.display()))?;
    let result = compare(&args, as_of, &work);
    if !args.keep {
        std::fs::remove_dir_all(&work).ok();
    } else {
        println!("kept: {}", work.display());
    }
    result
}

fn compare(args: &Args, as_of: NaiveDate, work: &Path) -> Result<bool, String> {
    let root = root();
    let t = Instant::now();
    let files = match &args.dir {
        Some(dir) => b2_files(dir)?,
        None => {
            let c = corpus::generate(&root.join("examples"), &work.join("corpus"), args.invoices);
            eprintln!(
                "generated {} invoices ({:.1} MB with the PJ index and returns, which are not read here)",
                c.invoices,
                c.bytes as f64 / 1e6
            );
            c.files
                .into_iter()
                .filter(|f| f.extension().is_some_and(|x| x == "b2"))
                .collect()
        }
    };
    let bytes: u64 = files
        .iter()
        .filter_map(|f| std::fs::metadata(f).ok())
        .map(|m| m.len())
        .sum();
    let generated = t.elapsed();

    let rules_dir = work.join("flux-tiers-12");
    let params = ruleset::write(&root.join("rules/flux-tiers"), &rules_dir)?;
    let setup = Setup::load(&root.join("grammars"), &rules_dir).map_err(|f| f.to_string())?;
    let loaded: usize = setup.sets.iter().map(|s| s.rules.len()).sum();
    if loaded != rules::Rule::ALL.len() {
        return Err(format!("the 12-rule set loaded with {loaded} rules"));
    }
    let t = Instant::now();
    let mut units = Vec::new();
    let opts = Options {
        jobs: 1,
        as_of: Some(as_of),
        ..Default::default()
    };
    let read = setup.read(vigie::files(&files), &opts, &mut |u| units.push(u.clone()));
    let decoded = t.elapsed();
    let t = Instant::now();
    let facts = Facts::extract(&units);
    let extracted = t.elapsed();

    report::setup(&report::Setup {
        files: files.len(),
        bytes,
        invoices: facts.invoices,
        lines: facts.lines,
        lots: facts.lots.len(),
        input_errors: read.outcomes.len(),
        generated,
        decoded,
        extracted,
        as_of,
        rules: loaded,
        params,
    });

    let wanted = |name: &str| args.engines.iter().any(|e| e == name);
    let runs = args.runs;
    let mut results: Vec<(&str, Vec<Measure>)> = Vec::new();
    let mut both = |name: &'static str, engine: &dyn Fn(usize) -> Measure| {
        let m: Vec<Measure> = [1, 2].into_iter().map(engine).collect();
        report::progress(name, &m);
        results.push((name, m));
    };
    let reference = vigie_eval::Vigie::new(&setup, &units, &facts, as_of);
    both("vigie", &|t| measure(&reference, &facts, t, runs));
    if wanted("native") {
        let e = native::Native::new(&facts, params);
        both("native", &|t| measure(&e, &facts, t, runs));
    }
    if wanted("zen") {
        let e = zen::Zen::new(&facts, params);
        both("zen", &|t| measure(&e, &facts, t, runs));
    }
    if wanted("rego") {
        let e = rego::Rego::new(&facts, params);
        both("rego", &|t| measure(&e, &facts, t, runs));
    }
    if wanted("cel") {
        let e = cel::Cel::new(&facts, params);
        both("cel", &|t| measure(&e, &facts, t, runs));
    }
    Ok(report::results(&facts, &results))
}
