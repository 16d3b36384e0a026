//! What the comparison prints: the corpus and machine, one row per engine and thread count,
//! the firings per code, and the agreement with vigie (every disagreement's first examples).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::NaiveDate;

use crate::bench::Measure;
use crate::facts::Facts;
use crate::rules::{Firing, Params, Rule};

/// Examples shown per disagreement.
const EXAMPLES: usize = 5;

/// The run's input.
pub struct Setup {
    pub files: usize,
    pub bytes: u64,
    pub invoices: usize,
    pub lines: usize,
    pub lots: usize,
    pub input_errors: usize,
    pub generated: Duration,
    pub decoded: Duration,
    pub extracted: Duration,
    pub as_of: NaiveDate,
    pub rules: usize,
    pub params: Params,
}

/// Prints the corpus, the machine and the rule set.
pub fn setup(s: &Setup) {
    println!(
        "corpus: {} invoices, {} lines, {} lots in {} B2 files ({:.1} MB); as of {}",
        s.invoices,
        s.lines,
        s.lots,
        s.files,
        s.bytes as f64 / 1e6,
        s.as_of
    );
    println!(
        "prepared: corpus {:.2} s, read by vigie (decode + assemble, 1 thread) {:.2} s ({} input errors), facts extracted {:.2} s",
        s.generated.as_secs_f64(),
        s.decoded.as_secs_f64(),
        s.input_errors,
        s.extracted.as_secs_f64()
    );
    println!(
        "machine: {}, {} cores, load average {} (another process on the machine slows every figure, two-thread ones most)",
        cpu(),
        cores(),
        load()
    );
    println!(
        "rule set: {} rules; validite_ordonnance_mois {}, delai_stupefiant_jours {}, delai_tp_jours_ouvres {}, delai_jours_ouvres {}",
        s.rules,
        s.params.validite_ordonnance_mois,
        s.params.delai_stupefiant_jours,
        s.params.delai_tp_jours_ouvres,
        s.params.delai_jours_ouvres
    );
}

/// Tells on stderr that an engine is done.
pub fn progress(name: &str, m: &[Measure]) {
    let shown: Vec<String> = m
        .iter()
        .map(|m| {
            let runs: Vec<String> = m
                .runs
                .iter()
                .map(|r| format!("{:.3}", r.as_secs_f64()))
                .collect();
            format!("{} thread(s): {} s", m.threads, runs.join(" "))
        })
        .collect();
    eprintln!("{name}: {}", shown.join("; "));
}

/// Prints the figures and the agreement; `false` when an engine disagrees with vigie.
pub fn results(facts: &Facts, results: &[(&str, Vec<Measure>)]) -> bool {
    let Some((_, reference)) = results.iter().find(|(n, _)| *n == "vigie") else {
        return false;
    };
    let Some(Ok(expected)) = reference.first().map(|m| m.firings.as_ref()) else {
        if let Some(Err(e)) = reference.first().map(|m| m.firings.as_ref()) {
            println!("vigie's firings could not be read: {e}");
        }
        return false;
    };
    let n = facts.invoices as f64;
    println!(
        "\n{:<7} {:>7} {:>9} {:>11} {:>10} {:>28} {:>10} {:>8}  agreement",
        "engine",
        "threads",
        "eval s",
        "invoices/s",
        "ns/inv",
        "speed / vigie (same threads)",
        "convert s",
        "firings"
    );
    let mut all_agree = true;
    let mut notes = Vec::new();
    for (name, measures) in results {
        for m in measures {
            let vigie = reference
                .iter()
                .find(|r| r.threads == m.threads)
                .map_or(m.best, |r| r.best);
            let ratio = vigie.as_secs_f64() / m.best.as_secs_f64();
            let versus = if *name == "vigie" {
                "1.00 (reference)".to_string()
            } else if ratio >= 1.0 {
                format!("{ratio:.2} ({name} faster)")
            } else {
                format!("{ratio:.2} (vigie {:.1}x faster)", 1.0 / ratio)
            };
            let (count, agreement) = match &m.firings {
                Ok(f) => {
                    let (missing, extra) = diff(expected, f);
                    let ok = missing.is_empty() && extra.is_empty();
                    if !ok {
                        notes.push(disagreement(facts, name, m.threads, &missing, &extra));
                    }
                    all_agree &= ok;
                    (
                        f.len().to_string(),
                        if ok { "OK" } else { "NOT OK" }.to_string(),
                    )
                }
                Err(e) => {
                    all_agree = false;
                    notes.push(format!("{name}, {} thread(s): {e}", m.threads));
                    ("-".into(), "NOT OK".into())
                }
            };
            println!(
                "{:<7} {:>7} {:>9.3} {:>11.0} {:>10.0} {:>28} {:>10} {:>8}  {}",
                name,
                m.threads,
                m.best.as_secs_f64(),
                n / m.best.as_secs_f64(),
                m.best.as_secs_f64() * 1e9 / n,
                versus,
                if *name == "vigie" {
                    "-".to_string()
                } else {
                    format!("{:.3}", m.convert.as_secs_f64())
                },
                count,
                agreement
            );
        }
    }
    per_code(results);
    for note in &notes {
        println!("\n{note}");
    }
    println!(
        "\nagreement: {}",
        if all_agree {
            "every engine fires on exactly the facts vigie fires on"
        } else {
            "NOT OK (see above)"
        }
    );
    all_agree
}

/// Firings per code and engine (one thread).
fn per_code(results: &[(&str, Vec<Measure>)]) {
    print!("\n{:<11}", "code");
    for (name, _) in results {
        print!(" {name:>8}");
    }
    println!();
    let counts: Vec<BTreeMap<Rule, usize>> = results
        .iter()
        .map(|(_, m)| {
            let mut c = BTreeMap::new();
            if let Some(Ok(f)) = m.first().map(|m| m.firings.as_ref()) {
                for f in f {
                    *c.entry(f.rule).or_default() += 1;
                }
            }
            c
        })
        .collect();
    for rule in Rule::ALL {
        print!("{:<11}", rule.code());
        for c in &counts {
            print!(" {:>8}", c.get(&rule).copied().unwrap_or(0));
        }
        println!();
    }
}

/// The firings of `expected` missing from `got`, and those of `got` not in `expected` (both
/// sorted).
fn diff(expected: &[Firing], got: &[Firing]) -> (Vec<Firing>, Vec<Firing>) {
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < expected.len() || j < got.len() {
        match (expected.get(i), got.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                missing.push(*a);
                i += 1;
            }
            (Some(_), Some(b)) => {
                extra.push(*b);
                j += 1;
            }
            (Some(a), None) => {
                missing.push(*a);
                i += 1;
            }
            (None, Some(b)) => {
                extra.push(*b);
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, extra)
}

/// One engine's disagreement with vigie, with its first examples.
fn disagreement(
    facts: &Facts,
    name: &str,
    threads: usize,
    missing: &[Firing],
    extra: &[Firing],
) -> String {
    let mut s = format!(
        "{name}, {threads} thread(s), disagrees with vigie: {} firing(s) missing, {} extra",
        missing.len(),
        extra.len()
    );
    for (what, list) in [("missing", missing), ("extra", extra)] {
        for f in list.iter().take(EXAMPLES) {
            s.push_str(&format!("\n  {what}: {}", facts.describe(f)));
        }
    }
    s
}

/// The processor's model name (Linux).
fn cpu() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown processor".into())
}

/// The 1-minute load average (Linux).
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "unknown".into())
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
