//! `vigie rules check | test | list`: the rule authors' commands.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use super::out::to_stdout;
use super::{Folders, Loaded, EXIT_CANNOT_RUN};
use vigie::cases::{self, CaseResult};
use vigie::RuleSet;

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compiles and checks rule sets and grammars: every fault of every file, with its line,
    /// column and source line (unknown fields and functions, placeholders, `eval`, dates
    /// compared with texts, keys of the YAML files…).
    Check(Target),
    /// Runs every rule's cases (cases/*.yaml beside the rules) and shows differences.
    #[command(
        after_help = "With --accept, the snapshot of each case file (tests/snapshots/ beside \
the rules folder, the files `cargo test` compares) is rewritten from what the rules give now: \
review the change with `git diff`, then commit it."
    )]
    Test(TestArgs),
    /// Lists each rule: code, kind, severity, scope, rule set and version.
    List(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// Rule-set folder, or a folder of rule sets (same as --rules).
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    folders: Folders,
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(flatten)]
    target: Target,
    /// Writes each case file's snapshot from the outcomes obtained.
    #[arg(long)]
    accept: bool,
    /// Prints after each case the letter its outcomes would give the PS (the templates of
    /// letters/, addressed to no one).
    #[arg(long)]
    preview: bool,
    /// Folder of the snapshots [default: tests/snapshots beside the rules folder].
    #[arg(long, value_name = "DIR")]
    snapshots: Option<PathBuf>,
}

impl Target {
    fn load(&self) -> Result<Loaded, String> {
        let folders = Folders {
            grammars: self.folders.grammars.clone(),
            rules: self.dir.clone().or_else(|| self.folders.rules.clone()),
        };
        folders.load(false)
    }
}

pub fn run(c: Command) -> ExitCode {
    let target = match &c {
        Command::Check(t) | Command::List(t) => t,
        Command::Test(t) => &t.target,
    };
    let loaded = match target.load() {
        Ok(l) => l,
        Err(m) => {
            say!("vigie: {m}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    if let Command::Test(t) = &c {
        let dir = snapshot_dir(&loaded, t);
        if t.accept && !dir.is_dir() {
            say!(
                "vigie: {} : dossier des instantanés introuvable ; indiquez-le avec --snapshots DIR",
                dir.display()
            );
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    }
    let mut failed = false;
    let written = to_stdout(|w| match &c {
        Command::Check(_) => {
            for s in &loaded.setup.sets {
                writeln!(w, "{} : {} règle(s), valide", s.id, s.rules.len())?;
            }
            Ok(())
        }
        Command::List(_) => list(w, &loaded.setup.sets),
        Command::Test(t) => {
            failed = test(w, &loaded, t)?;
            Ok(())
        }
    });
    match written {
        Err(code) => code,
        Ok(()) if failed => ExitCode::from(EXIT_CANNOT_RUN),
        Ok(()) => ExitCode::SUCCESS,
    }
}

/// Where the snapshots are: `--snapshots`, else `tests/snapshots` beside the folder of all
/// rule sets (the rules folder given, or its parent when it is one rule set).
fn snapshot_dir(loaded: &Loaded, t: &TestArgs) -> PathBuf {
    t.snapshots.clone().unwrap_or_else(|| {
        let root = match &loaded.setup.sets[..] {
            [only] if only.dir == loaded.rules_dir => only.dir.parent().unwrap_or(Path::new(".")),
            _ => loaded.rules_dir.as_path(),
        };
        root.parent()
            .unwrap_or(Path::new("."))
            .join("tests/snapshots")
    })
}

/// Runs the cases; returns whether any failed.
fn test(w: &mut dyn Write, loaded: &Loaded, t: &TestArgs) -> io::Result<bool> {
    let snapshots = snapshot_dir(loaded, t);
    let mut failures: Vec<String> = Vec::new();
    let mut passed = 0usize;
    for set in &loaded.setup.sets {
        let mut all = Vec::new();
        let mut refused = false;
        for file in cases::case_files(set) {
            let results = match loaded.setup.run_cases(set, &file) {
                Ok(r) => r,
                Err(f) => {
                    say!("{f}");
                    failures.push(file.display().to_string());
                    refused = true;
                    continue;
                }
            };
            for r in &results {
                report(w, set, r, &mut passed, &mut failures)?;
                if t.preview {
                    preview(w, loaded, r)?;
                }
            }
            if t.accept {
                accept(w, &snapshots, &set.dir, &file, &results)?;
            }
            all.extend(results);
        }
        // A refused case file is already a failure: its rules' coverage is not told again.
        let coverage = if refused {
            Vec::new()
        } else {
            cases::coverage(set, &all)
        };
        for r in coverage {
            report(w, set, &r, &mut passed, &mut failures)?;
        }
    }
    writeln!(w, "{passed} passed, {} failed", failures.len())?;
    if !failures.is_empty() {
        writeln!(w, "\néchecs :")?;
        for f in &failures {
            writeln!(w, "  {f}")?;
        }
    }
    Ok(!failures.is_empty())
}

/// The letters a case's outcomes would give, indented under the case.
fn preview(w: &mut dyn Write, loaded: &Loaded, r: &CaseResult) -> io::Result<()> {
    let date = chrono::Local::now().date_naive();
    for letter in loaded.setup.preview_letters(&r.outcomes, date) {
        match letter {
            Ok(l) => {
                writeln!(w, "      ┌ Objet : {}", l.subject_line)?;
                for line in l.email_text().lines() {
                    writeln!(w, "      │ {line}")?;
                }
                writeln!(w, "      └")?;
            }
            Err(e) => writeln!(w, "      lettre impossible : {e}")?,
        }
    }
    Ok(())
}

fn report(
    w: &mut dyn Write,
    set: &RuleSet,
    r: &CaseResult,
    passed: &mut usize,
    failures: &mut Vec<String>,
) -> io::Result<()> {
    if r.passed() {
        *passed += 1;
        writeln!(w, "ok    {} {} — {}", set.id, r.code, r.name)
    } else {
        let at = match r.line {
            0 => r.file.display().to_string(),
            line => format!("{}:{line}", r.file.display()),
        };
        failures.push(format!("{at} {} — {}", r.code, r.name));
        writeln!(
            w,
            "ÉCHEC {} {} — {} ({at})\n{}",
            set.id,
            r.code,
            r.name,
            r.diff()
        )
    }
}

fn accept(
    w: &mut dyn Write,
    snapshots: &Path,
    set_dir: &Path,
    file: &Path,
    results: &[CaseResult],
) -> io::Result<()> {
    let Some(path) = cases::snapshot_path(snapshots, set_dir, file) else {
        return Ok(());
    };
    let text = cases::snapshot_file(&cases::snapshot_input(set_dir, file), results);
    if std::fs::read_to_string(&path).ok().as_deref() == Some(text.as_str()) {
        return Ok(());
    }
    let tmp = path.with_extension("snap.tmp");
    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &path))?;
    writeln!(w, "instantané écrit : {}", path.display())
}

fn list(w: &mut dyn Write, sets: &[Arc<RuleSet>]) -> io::Result<()> {
    writeln!(
        w,
        "{:<14} {:<9} {:<12} {:<10} {:<24} EN VIGUEUR",
        "CODE", "KIND", "GRAVITÉ", "PORTÉE", "JEU"
    )?;
    for s in sets {
        for r in &s.rules {
            let span = match (r.from, r.until) {
                (None, None) => "toujours".to_string(),
                (f, u) => format!(
                    "{} → {}",
                    f.map(|d| d.to_string()).unwrap_or_default(),
                    u.map(|d| d.to_string()).unwrap_or_default()
                ),
            };
            writeln!(
                w,
                "{:<14} {:<9} {:<12} {:<10} {:<24} {}",
                r.code,
                r.kind.as_str(),
                r.severity.as_str(),
                r.scope,
                s.id,
                span
            )?;
        }
    }
    Ok(())
}
