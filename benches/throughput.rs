//! The benchmark suite: generates corpora with the mix of the published samples (B2 lots, a PJ
//! index and NOEMIE returns of matching size, `support/corpus.rs`), then measures each stage in a
//! process of its own — so that its peak memory is its own — beside a floor measured in the same
//! run on the same bytes (reading them and splitting them into lines):
//!
//! - read + split into lines (the floor);
//! - decode + assemble + joins, no rule (1 thread);
//! - + every rule set, on 1 thread and on all cores;
//! - the whole `vigie analyze` process, JSONL report written (all cores);
//! - `vigie ingest` into a fresh SQLite store (one thread decodes, another writes): the B2 lots
//!   alone, then every file.
//!
//! Run: `cargo bench --bench throughput` (sizes 10 000 and 100 000 invoices);
//! `VIGIE_BENCH_SIZES=10000,100000,1000000` for more; `VIGIE_BENCH_ONLY=ingest` for the
//! ingest alone; `VIGIE_BENCH_KEEP=1` keeps the generated corpus. Results and the machine they were measured on: docs/performance.md.

#[path = "support/corpus.rs"]
mod corpus;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chrono::NaiveDate;
use vigie::{Options, Setup};

/// The allocator of the vigie binary, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The day the corpora are analysed at (the samples' own).
const AS_OF: &str = "2026-11-20";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// This process's peak resident memory, in MB (Linux).
fn peak_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// The files of a corpus folder, in the order the generator gave them.
fn corpus_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(dir.join("files.txt"))
        .unwrap()
        .lines()
        .map(PathBuf::from)
        .collect()
}

/// Runs one stage in this process (a child of the suite) and prints `RESULT secs peak outcomes`.
fn stage(name: &str, dir: &Path) {
    let files = corpus_files(dir);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let t = Instant::now();
    let outcomes = match name {
        "floor" => {
            let mut lines = 0usize;
            for f in &files {
                let r = std::io::BufReader::with_capacity(1 << 16, std::fs::File::open(f).unwrap());
                lines += r.split(b'\n').count();
            }
            lines
        }
        "ingest" | "ingest-b2" => {
            let setup = Setup::load(&root().join("grammars"), &root().join("rules")).unwrap();
            let files: Vec<PathBuf> = files
                .into_iter()
                .filter(|f| name == "ingest" || f.extension().is_some_and(|e| e == "b2"))
                .collect();
            let t = Instant::now();
            let n = ingest(&setup, &files, dir);
            println!("RESULT {} {} {n}", t.elapsed().as_secs_f64(), peak_mb());
            return;
        }
        _ => {
            let setup = Setup::load(&root().join("grammars"), &root().join("rules")).unwrap();
            let opts = Options {
                jobs: if name == "rules-all" { cores } else { 1 },
                as_of: NaiveDate::parse_from_str(AS_OF, "%Y-%m-%d").ok(),
                decode_only: name == "decode",
                ..Options::default()
            };
            let t = Instant::now();
            let n = setup.analyze(vigie::files(&files), &opts).outcomes.len();
            println!("RESULT {} {} {n}", t.elapsed().as_secs_f64(), peak_mb());
            return;
        }
    };
    println!(
        "RESULT {} {} {outcomes}",
        t.elapsed().as_secs_f64(),
        peak_mb()
    );
}

/// Ingests every file into a fresh SQLite store, as `vigie ingest` does (one thread reads the
/// files ahead and builds the rows, another inserts and commits them); the facts stored.
fn ingest(setup: &Setup, files: &[PathBuf], dir: &Path) -> u64 {
    let db = dir.join("bench.db");
    let _ = std::fs::remove_file(&db);
    let mut store = vigie::Store::open(&format!("sqlite:{}", db.display())).unwrap();
    let agent = store
        .add_agent(None, "bench", "Banc", "Essai", vigie::Role::Administration)
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let received: Vec<vigie::Received<'_>> = files
        .iter()
        .map(|path| vigie::Received { path, day })
        .collect();
    let mut facts = 0;
    store
        .ingest(&agent, &setup.grammars, &received, &mut |settled| {
            if let vigie::Ingested::Stored { facts: f, .. } = settled {
                facts += f;
            }
        })
        .unwrap();
    drop(store);
    let _ = std::fs::remove_file(&db);
    facts
}

/// One measurement: seconds, peak MB, outcomes (or lines, facts).
struct Measured {
    secs: f64,
    peak: f64,
    count: u64,
    /// The slowest of the runs, in seconds (the spread of this machine's timings).
    slowest: f64,
}

/// The fastest of `runs`, with the slowest one's time.
fn fastest(runs: impl Iterator<Item = Measured>) -> Option<Measured> {
    let all: Vec<Measured> = runs.collect();
    let slowest = all.iter().map(|m| m.secs).fold(0.0, f64::max);
    all.into_iter()
        .min_by(|a, b| a.secs.total_cmp(&b.secs))
        .map(|m| Measured { slowest, ..m })
}

/// Runs `stage` in a child process `runs` times; the fastest run.
fn measure(stage: &str, dir: &Path, runs: usize) -> Measured {
    let exe = std::env::current_exe().unwrap();
    fastest((0..runs).map(|_| {
        let o = Command::new(&exe)
            .env("VIGIE_BENCH_STAGE", stage)
            .env("VIGIE_BENCH_DIR", dir)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stdout);
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("RESULT "))
            .unwrap_or_else(|| panic!("stage {stage}: {}", String::from_utf8_lossy(&o.stderr)));
        let v: Vec<f64> = line.split(' ').map(|x| x.parse().unwrap()).collect();
        Measured {
            secs: v[0],
            peak: v[1],
            count: v[2] as u64,
            slowest: v[0],
        }
    }))
    .unwrap()
}

/// The whole `vigie analyze` process, JSONL report written, peak memory by GNU time.
fn whole_process(dir: &Path, runs: usize) -> Option<Measured> {
    let time = Path::new("/usr/bin/time");
    if !time.exists() {
        return None;
    }
    let report = dir.join("report.jsonl");
    fastest((0..runs).map(|_| {
        let t = Instant::now();
        let o = Command::new(time)
            .args(["-f", "PEAK %M"])
            .arg(env!("CARGO_BIN_EXE_vigie"))
            .args([
                "analyze", "-q", "--as-of", AS_OF, "--format", "jsonl", "--output",
            ])
            .arg(&report)
            .args(corpus_files(dir))
            .env("VIGIE_GRAMMARS", root().join("grammars"))
            .env("VIGIE_RULES", root().join("rules"))
            .output()
            .unwrap();
        let secs = t.elapsed().as_secs_f64();
        let err = String::from_utf8_lossy(&o.stderr);
        let kb: f64 = err
            .lines()
            .find_map(|l| l.strip_prefix("PEAK "))
            .and_then(|k| k.trim().parse().ok())
            .unwrap_or(0.0);
        let count = std::fs::read(&report)
            .map(|r| r.iter().filter(|&&b| b == b'\n').count() as u64)
            .unwrap_or(0);
        Measured {
            secs,
            peak: kb / 1024.0,
            count,
            slowest: secs,
        }
    }))
}

fn main() {
    if let (Ok(stage_name), Ok(dir)) = (
        std::env::var("VIGIE_BENCH_STAGE"),
        std::env::var("VIGIE_BENCH_DIR"),
    ) {
        stage(&stage_name, Path::new(&dir));
        return;
    }
    let sizes: Vec<usize> = std::env::var("VIGIE_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let only_ingest = std::env::var("VIGIE_BENCH_ONLY").is_ok_and(|v| v == "ingest");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for size in sizes {
        let dir = std::env::temp_dir().join(format!("vigie-bench-{}-{size}", std::process::id()));
        let corpus = corpus::generate(&root().join("examples"), &dir, size);
        let list: Vec<String> = corpus
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        std::fs::write(dir.join("files.txt"), list.join("\n")).unwrap();
        let (n, mb) = (corpus.invoices as f64, corpus.bytes as f64 / 1e6);
        println!(
            "\n{} invoices (the samples' mix), {mb:.1} MB in {} files (B2, PJ index, NOEMIE), {cores} cores, as of {AS_OF}",
            corpus.invoices,
            corpus.files.len()
        );
        println!(
            "{:<44} {:>8} {:>11} {:>8} {:>9} {:>8} {:>9}",
            "stage", "seconds", "invoices/s", "MB/s", "× floor", "peak MB", "count"
        );
        // Ingest (disk and database) varies most from run to run: 3 runs at every size.
        let runs = if size <= 100_000 { 3 } else { 1 };
        let runs_of = |stage: &str| if stage.starts_with("ingest") { 3 } else { runs };
        let floor = measure("floor", &dir, runs);
        let line = |label: &str, m: &Measured| {
            println!(
                "{label:<44} {:>8.3} {:>11.0} {:>8.1} {:>9.1} {:>8.0} {:>9}",
                m.secs,
                n / m.secs,
                mb / m.secs,
                m.secs / floor.secs,
                m.peak,
                m.count
            );
            if m.slowest > m.secs {
                println!(
                    "{:<44} {:>8.3} {:>11.0}",
                    "  its slowest run",
                    m.slowest,
                    n / m.slowest
                );
            }
        };
        line("read + split into lines (floor), 1 thread", &floor);
        let mut stages = vec![
            ("ingest-b2", "ingest into SQLite, the B2 lots only"),
            ("ingest", "ingest into SQLite, every file"),
        ];
        if !only_ingest {
            stages.splice(
                0..0,
                [
                    ("decode", "decode + assemble + joins, 1 thread"),
                    ("rules-1", "+ every rule set, 1 thread"),
                    ("rules-all", "+ every rule set, all cores"),
                ],
            );
        }
        for (name, label) in stages {
            line(label, &measure(name, &dir, runs_of(name)));
        }
        if !only_ingest {
            match whole_process(&dir, runs) {
                Some(m) => line("whole process, JSONL written, all cores", &m),
                None => println!("whole process: /usr/bin/time (GNU time) missing, not measured"),
            }
        }
        if std::env::var_os("VIGIE_BENCH_KEEP").is_some() {
            println!(
                "corpus kept in {} (files.txt lists it in order)",
                dir.display()
            );
        } else {
            std::fs::remove_dir_all(dir).ok();
        }
    }
}
