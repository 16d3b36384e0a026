//! Throughput benchmark: generates a large B2 set, then measures invoices/s and MB/s for
//! decoding alone, for decoding plus the whole Flux tiers rule set on one thread and on all
//! cores, and for `ingest` into a fresh SQLite store (files kept whole, one row per lot,
//! invoice and line, one transaction per file), with the peak memory the ingest added.
//! Run: `cargo bench --bench throughput` (VIGIE_BENCH_INVOICES=200000 to resize,
//! VIGIE_BENCH_ONLY=ingest for the ingest alone).

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use chrono::{Days, NaiveDate};

/// The allocator of the vigie binary, so that the figures are the binary's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use vigie::{Options, Setup};

fn luhn_complete(prefix: &str) -> String {
    (0..10)
        .map(|k| format!("{prefix}{k}"))
        .find(|s| vigie::luhn(s))
        .expect("a Luhn key exists")
}

/// Writes `invoices` invoices (3 lines each, 100 per lot, 50 lots per file) under `dir`.
fn generate(dir: &std::path::Path, invoices: usize) -> Vec<PathBuf> {
    let base = NaiveDate::from_ymd_opt(2026, 10, 1).unwrap();
    let mut files = Vec::new();
    let per_lot = 100;
    let per_file = 50 * per_lot;
    let mut n = 0usize;
    let mut file_no = 0;
    while n < invoices {
        file_no += 1;
        let n_ps = luhn_complete(&format!("99{:06}", 100 + file_no % 900));
        let path = dir.join(format!("bench-{file_no:04}.b2"));
        let mut out = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
        let mut recs = 0;
        let rec = |out: &mut std::io::BufWriter<std::fs::File>, s: String, recs: &mut usize| {
            assert_eq!(s.len(), 128, "{s}");
            out.write_all(s.as_bytes()).unwrap();
            out.write_all(b"\r\n").unwrap();
            *recs += 1;
        };
        rec(
            &mut out,
            format!("0 {n_ps}201126{file_no:06}B2V1{:101}", ""),
            &mut recs,
        );
        let mut lots = 0;
        while n < invoices && lots * per_lot < per_file {
            lots += 1;
            let date_lot = base
                .checked_add_days(Days::new((lots % 40) as u64 + 10))
                .unwrap();
            let dl = date_lot.format("%d%m%y");
            rec(
                &mut out,
                format!("1 {n_ps}{lots:03}017510001{dl}{:99}", ""),
                &mut recs,
            );
            let mut lot_recs = 2;
            let mut lot_total = 0u64;
            let mut in_lot = 0;
            while n < invoices && in_lot < per_lot {
                n += 1;
                in_lot += 1;
                let nir = format!(
                    "2{:02}{:02}75{:03}{:03}",
                    50 + n % 40,
                    1 + n % 12,
                    n % 1000,
                    n % 997
                );
                let key = vigie::nir_key(&nir).unwrap();
                let soins = date_lot
                    .checked_sub_days(Days::new((n % 6) as u64))
                    .unwrap();
                let presc = soins.checked_sub_days(Days::new((n % 120) as u64)).unwrap();
                rec(
                    &mut out,
                    format!(
                        "2 {n:09}{nir}{key:02}00001011960O{}10005173140{}S{:<25}{:<20}{:26}",
                        if n % 7 == 0 { "D" } else { "S" },
                        presc.format("%d%m%y"),
                        "DUPONT",
                        "MARIE",
                        ""
                    ),
                    &mut recs,
                );
                let (mut t, mut amo, mut amc) = (0u64, 0u64, 0u64);
                for l in 0..3u64 {
                    let q = 1 + (n as u64 + l) % 3;
                    let pu = 250 + (n as u64 * 7 + l * 13) % 2000;
                    let m = q * pu;
                    let a = m * 65 / 100;
                    let c = m - a;
                    t += m;
                    amo += a;
                    amc += c;
                    let liste = if l == 0 { "1P" } else { "  " };
                    rec(&mut out, format!("4 {n:09}{}3400936403114{liste}{q:03}000100{pu:07}{m:07}065{a:07}{c:07}{:56}", soins.format("%d%m%y"), ""), &mut recs);
                }
                rec(
                    &mut out,
                    format!("5 {n:09}003{t:08}{amo:08}{amc:08}{:08}{:82}", 0, ""),
                    &mut recs,
                );
                lot_recs += 5;
                lot_total += t;
            }
            rec(
                &mut out,
                format!(
                    "9 {n_ps}{lots:03}{in_lot:04}{lot_recs:06}{lot_total:010}{:94}",
                    ""
                ),
                &mut recs,
            );
        }
        let total = recs + 1;
        rec(
            &mut out,
            format!("99{lots:04}{total:08}{:114}", ""),
            &mut recs,
        );
        out.flush().unwrap();
        files.push(path);
    }
    files
}

fn main() {
    let invoices: usize = std::env::var("VIGIE_BENCH_INVOICES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::temp_dir().join(format!("vigie-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let files = generate(&dir, invoices);
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    let setup = Setup::load(&root.join("grammars"), &root.join("rules")).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "vigie throughput — {invoices} invoices, {:.1} MB of B2 in {} files, {cores} cores",
        bytes as f64 / 1e6,
        files.len()
    );
    println!(
        "{:<34} {:>10} {:>14} {:>10} {:>10}",
        "mode", "seconds", "invoices/s", "MB/s", "outcomes"
    );
    let only_ingest = std::env::var("VIGIE_BENCH_ONLY").is_ok_and(|v| v == "ingest");
    for (label, decode_only, jobs) in [
        ("decode + assemble, 1 thread", true, 1),
        ("decode + flux-tiers, 1 thread", false, 1),
        ("decode + flux-tiers, all cores", false, cores),
    ]
    .into_iter()
    .filter(|_| !only_ingest)
    {
        let opts = Options {
            jobs,
            as_of: NaiveDate::from_ymd_opt(2026, 11, 20),
            decode_only,
            ..Options::default()
        };
        let mut best = f64::MAX;
        let mut outcomes = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let a = setup.analyze(vigie::files(&files), &opts);
            best = best.min(t.elapsed().as_secs_f64());
            outcomes = a.outcomes.len();
        }
        println!(
            "{label:<34} {best:>10.3} {:>14.0} {:>10.1} {outcomes:>10}",
            invoices as f64 / best,
            bytes as f64 / 1e6 / best
        );
    }
    ingest(&setup, &files, invoices, bytes, &dir);
    std::fs::remove_dir_all(dir).ok();
}

/// The process's peak resident memory so far, in MB (Linux).
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

/// Ingests every file into a fresh SQLite store, as `vigie ingest` does (one thread decodes,
/// another builds and inserts the rows).
fn ingest(setup: &Setup, files: &[PathBuf], invoices: usize, bytes: u64, dir: &std::path::Path) {
    let db = dir.join("bench.db");
    let mut store = vigie::Store::open(&format!("sqlite:{}", db.display())).unwrap();
    let agent = store
        .add_agent(None, "bench", "Banc", "Essai", vigie::Role::Administration)
        .unwrap();
    let day = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
    let before = peak_mb();
    let t = Instant::now();
    let mut facts = 0;
    for path in files {
        let received = vigie::Received { path, day };
        if let vigie::Ingested::Stored { facts: f, .. } =
            store.ingest(&agent, &setup.grammars, &received).unwrap()
        {
            facts += f;
        }
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "{:<34} {secs:>10.3} {:>14.0} {:>10.1} {facts:>10} facts, peak +{:.0} MB (largest file {:.1} MB)",
        "ingest into SQLite, 2 threads",
        invoices as f64 / secs,
        bytes as f64 / 1e6 / secs,
        (peak_mb() - before).max(0.0),
        files
            .iter()
            .map(|f| std::fs::metadata(f).unwrap().len())
            .max()
            .unwrap_or(0) as f64
            / 1e6
    );
}
