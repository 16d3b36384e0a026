//! `vigie rules check | test | list`: the rule authors' commands.

use std::path::PathBuf;
use std::process::ExitCode;

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
    match c {
        Command::Check(_) => {
            for s in &sets {
                println!("{} : {} règle(s), valide", s.id, s.rules.len());
            }
            ExitCode::SUCCESS
        }
        Command::List(_) => {
            println!(
                "{:<14} {:<9} {:<12} {:<10} {:<24} EN VIGUEUR",
                "CODE", "KIND", "GRAVITÉ", "PORTÉE", "JEU"
            );
            for s in &sets {
                for r in &s.rules {
                    let span = match (r.from, r.until) {
                        (None, None) => "toujours".to_string(),
                        (f, u) => format!(
                            "{} → {}",
                            f.map(|d| d.to_string()).unwrap_or_default(),
                            u.map(|d| d.to_string()).unwrap_or_default()
                        ),
                    };
                    println!(
                        "{:<14} {:<9} {:<12} {:<10} {:<24} {}",
                        r.code,
                        r.kind.as_str(),
                        r.severity.as_str(),
                        r.scope,
                        s.id,
                        span
                    );
                }
            }
            ExitCode::SUCCESS
        }
        Command::Test(_) => {
            let mut failed = 0usize;
            let mut passed = 0usize;
            for s in &sets {
                match vigie::rules::cases::run_set(&grammars, s) {
                    Ok(results) => {
                        for r in results {
                            if r.passed() {
                                passed += 1;
                                println!("ok    {} {} — {}", s.id, r.code, r.name);
                            } else {
                                failed += 1;
                                println!("ÉCHEC {} {} — {}\n{}", s.id, r.code, r.name, r.diff());
                            }
                        }
                    }
                    Err(f) => {
                        eprintln!("{f}");
                        return ExitCode::from(EXIT_CANNOT_RUN);
                    }
                }
            }
            println!("{passed} passed, {failed} failed");
            if failed > 0 {
                ExitCode::from(EXIT_CANNOT_RUN)
            } else {
                ExitCode::SUCCESS
            }
        }
    }
}
