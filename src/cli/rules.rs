//! `vigie rules check | test | list`: the rule authors' commands.

use std::path::PathBuf;
use std::process::ExitCode;

use std::io::{self, Write};

use super::out::to_stdout;
use super::{rules_dir, GrammarArgs, EXIT_CANNOT_RUN};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Compiles and validates rule sets; reports every fault with file, line and column.
    Check(Target),
    /// Runs every rule's cases (cases/*.yaml beside the rules) and shows differences.
    Test(Target),
    /// Lists each rule: code, kind, severity, scope, rule set and version.
    List(Target),
}

#[derive(Debug, clap::Args)]
pub struct Target {
    /// Rule-set folder, or a folder of rule sets [default: ./rules, or beside the vigie binary].
    #[arg(value_name = "DIR", env = "VIGIE_RULES")]
    dir: Option<PathBuf>,
    #[command(flatten)]
    grammars: GrammarArgs,
}

pub fn run(c: Command) -> ExitCode {
    let (Command::Check(t) | Command::Test(t) | Command::List(t)) = &c;
    let loaded = t.grammars.load().and_then(|g| {
        let dir = rules_dir(&t.dir)?;
        let sets = vigie::rules::load_all(&dir, &g).map_err(|f| format!("{f}"))?;
        Ok((g, sets))
    });
    let (grammars, sets) = match loaded {
        Ok(x) => x,
        Err(m) => {
            eprintln!("{m}");
            return ExitCode::from(EXIT_CANNOT_RUN);
        }
    };
    let mut failed = 0usize;
    let written = to_stdout(|w| match &c {
        Command::Check(_) => {
            for s in &sets {
                writeln!(w, "{} : {} règle(s), valide", s.id, s.rules.len())?;
            }
            Ok(())
        }
        Command::List(_) => list(w, &sets),
        Command::Test(_) => {
            let mut passed = 0usize;
            for s in &sets {
                let results = match vigie::rules::cases::run_set(&grammars, s) {
                    Ok(r) => r,
                    Err(f) => {
                        eprintln!("{f}");
                        failed += 1;
                        continue;
                    }
                };
                for r in results {
                    if r.passed() {
                        passed += 1;
                        writeln!(w, "ok    {} {} — {}", s.id, r.code, r.name)?;
                    } else {
                        failed += 1;
                        writeln!(w, "ÉCHEC {} {} — {}\n{}", s.id, r.code, r.name, r.diff())?;
                    }
                }
            }
            writeln!(w, "{passed} passed, {failed} failed")
        }
    });
    if let Err(code) = written {
        return code;
    }
    if failed > 0 {
        ExitCode::from(EXIT_CANNOT_RUN)
    } else {
        ExitCode::SUCCESS
    }
}

fn list(w: &mut dyn Write, sets: &[std::sync::Arc<vigie::rules::RuleSet>]) -> io::Result<()> {
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
