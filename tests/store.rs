//! The store as a caisse lives with it, on SQLite and on PostgreSQL (a throwaway server, see
//! `common/pg.rs`): months of flow played from files — lots on day 1, PJ on day 5 and day 40,
//! returns on day 10, letters, a rule set upgrade, a purge after 36 months — with every status,
//! outcome, audit line and purge checked; `vigie ingest` killed mid-file (`kill -9`) and run
//! again; agents refused; an edited audit entry found.

mod common;

use common::stderr;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs vigie in `dir` on `store` as `agent` (none: `VIGIE_AGENT` unset).
fn vigie(dir: &Path, store: &str, agent: Option<&str>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.args(args)
        .current_dir(dir)
        .env("VIGIE_STORE", store)
        .env("VIGIE_GRAMMARS", common::path("grammars"))
        .env("VIGIE_RULES", common::path("rules"))
        .env_remove("VIGIE_SMTP_URL")
        .env_remove("VIGIE_AGENT");
    if let Some(a) = agent {
        c.env("VIGIE_AGENT", a);
    }
    c.output().expect("vigie runs")
}

/// Registers `a.martin` (Agnès Martin), the administrator an empty store's first agent must be.
fn first_administrator(dir: &Path, store: &str) {
    ok(vigie(
        dir,
        store,
        None,
        &[
            "agents",
            "add",
            "a.martin",
            "--nom",
            "Martin",
            "--prenom",
            "Agnès",
            "--role",
            "administration",
        ],
    ));
}

/// The command succeeded; its standard output.
fn ok(o: Output) -> String {
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn jsonl(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigie-store-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The invoice whose PJ arrives late (day 40), and its PS.
const LATE: &str = "000144010";
const PS: &str = "132202888";

/// The flow's files, one folder per day of receipt: day 1 two lots and the directory of PS,
/// day 5 the PJ index without the late invoice's PJ, day 10 a NOEMIE return on a day-1 lot,
/// day 40 the late PJ and the first lot sent again under another file number.
fn flow(dir: &Path) -> Vec<(&'static str, Vec<PathBuf>)> {
    let ex = |name: &str| common::path(&format!("examples/{name}"));
    let day = |d: &str| {
        let p = dir.join(d);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (d1, d5, d10, d40) = (day("j01"), day("j05"), day("j10"), day("j40"));
    let files = |to: &Path, name: &str, text: &[u8]| {
        let p = to.join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let lot07 = std::fs::read(ex("lot-07-132202888.b2")).unwrap();
    let lot04 = std::fs::read(ex("lot-04-993503234.b2")).unwrap();
    let index = std::fs::read_to_string(ex("pieces.scor.csv")).unwrap();
    let (header, lines) = index.split_once('\n').unwrap();
    let ours: Vec<&str> = lines
        .lines()
        .filter(|l| l.starts_with(&format!("{PS};071;")))
        .collect();
    let early: Vec<&str> = ours.iter().copied().filter(|l| !l.contains(LATE)).collect();
    let late: Vec<&str> = ours.iter().copied().filter(|l| l.contains(LATE)).collect();
    assert_eq!(late.len(), 1);
    // The same lot sent again: another file number (a byte of the header), the same invoices.
    let at = lot07.windows(8).position(|w| w == b"000007B2").unwrap();
    let mut again = lot07.clone();
    again[at + 5] = b'8';
    vec![
        (
            "2026-11-10",
            vec![
                files(
                    &d1,
                    "annuaire-ps.csv",
                    &std::fs::read(ex("annuaire-ps.csv")).unwrap(),
                ),
                files(&d1, "lot-07-132202888.b2", &lot07),
                files(&d1, "lot-04-993503234.b2", &lot04),
            ],
        ),
        (
            "2026-11-15",
            vec![files(
                &d5,
                "pieces-a.scor.csv",
                format!("{header}\n{}\n", early.join("\n")).as_bytes(),
            )],
        ),
        (
            "2026-11-20",
            vec![files(
                &d10,
                "retour-04.noemie",
                &std::fs::read(ex("retour-04.noemie")).unwrap(),
            )],
        ),
        (
            "2026-12-20",
            vec![
                files(
                    &d40,
                    "pieces-b.scor.csv",
                    format!("{header}\n{}\n", late.join("\n")).as_bytes(),
                ),
                files(&d40, "lot-07-132202888-bis.b2", &again),
            ],
        ),
    ]
}

fn paths(files: &[PathBuf]) -> Vec<String> {
    files.iter().map(|p| p.display().to_string()).collect()
}

/// `vigie reconcile` at `day` gives exactly `vigie analyze` of `received` (in that order).
fn reconcile_is_analyze(dir: &Path, store: &str, day: &str, received: &[String]) -> Vec<Value> {
    let r = ok(vigie(
        dir,
        store,
        Some("b.durand"),
        &["reconcile", "-q", "--as-of", day, "--format", "jsonl"],
    ));
    let mut args = vec!["analyze", "-q", "--as-of", day, "--format", "jsonl"];
    args.extend(received.iter().map(String::as_str));
    let a = ok(vigie(dir, store, None, &args));
    assert_eq!(
        r, a,
        "reconcile at {day} = analyze of the files received by then"
    );
    jsonl(&r)
}

fn status(dir: &Path, store: &str, agent: &str, day: &str) -> Vec<Value> {
    jsonl(&ok(vigie(
        dir,
        store,
        Some(agent),
        &["status", "--as-of", day, "--ps", PS, "--format", "jsonl"],
    )))
}

fn about<'a>(lines: &'a [Value], code: &str, facture: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["code"] == code && l["subject"]["n_facture"] == facture)
        .collect()
}

fn audit(dir: &Path, store: &str) -> Vec<Value> {
    jsonl(&ok(vigie(
        dir,
        store,
        Some("a.martin"),
        &["audit", "--json"],
    )))
}

/// A copy of the project's rule sets with Flux tiers at a newer version.
fn upgraded_rules(dir: &Path) -> PathBuf {
    let to = dir.join("rules-2026.12");
    std::fs::create_dir_all(&to).unwrap();
    for set in ["cas", "flux-tiers"] {
        let copied = Command::new("cp")
            .arg("-r")
            .arg(common::path(&format!("rules/{set}")))
            .arg(to.join(set))
            .status()
            .unwrap();
        assert!(copied.success());
    }
    let manifest = to.join("flux-tiers/ruleset.yaml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    assert!(text.contains("version: 2026.11.0"));
    std::fs::write(
        &manifest,
        text.replacen("version: 2026.11.0", "version: 2026.12.0", 1),
    )
    .unwrap();
    to
}

fn scenario(store: &str, tag: &str) {
    let dir = scratch(tag);
    let days = flow(&dir);

    // Agents: the first needs no one and must administer; then only administrators add.
    let first = vigie(
        &dir,
        store,
        None,
        &[
            "agents", "add", "a.martin", "--nom", "Martin", "--prenom", "Agnès", "--role",
            "gestion",
        ],
    );
    assert_eq!(first.status.code(), Some(2), "{}", stderr(&first));
    first_administrator(&dir, store);
    let nobody = vigie(
        &dir,
        store,
        None,
        &[
            "agents", "add", "b.durand", "--nom", "Durand", "--prenom", "Bruno", "--role",
            "gestion",
        ],
    );
    assert_eq!(nobody.status.code(), Some(4), "{}", stderr(&nobody));
    ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &[
            "agents", "add", "b.durand", "--nom", "Durand", "--prenom", "Bruno", "--role",
            "gestion",
        ],
    ));
    ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &[
            "agents", "add", "c.petit", "--nom", "Petit", "--prenom", "Chloé", "--role", "lecture",
        ],
    ));
    ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &[
            "agents", "add", "d.roux", "--nom", "Roux", "--prenom", "Denis", "--role", "gestion",
        ],
    ));
    ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &["agents", "disable", "d.roux"],
    ));

    // Refusals: unknown, disabled, role too low — exit 4, nothing done.
    let d1 = paths(&days[0].1);
    for (agent, why) in [
        ("x.inconnu", "inconnu"),
        ("d.roux", "désactivé"),
        ("c.petit", "demande le rôle gestion"),
    ] {
        let mut args = vec!["ingest", "--received", days[0].0];
        args.extend(d1.iter().map(String::as_str));
        let o = vigie(&dir, store, Some(agent), &args);
        assert_eq!(o.status.code(), Some(4), "{agent}: {}", stderr(&o));
        assert!(stderr(&o).contains(why), "{}", stderr(&o));
    }
    let o = vigie(
        &dir,
        store,
        Some("b.durand"),
        &["purge", "--as-of", "2030-01-01"],
    );
    assert_eq!(o.status.code(), Some(4), "gestion does not purge");

    // The flow, day by day: each reconcile is analyze of what came so far.
    let mut received: Vec<String> = Vec::new();
    let ingest = |day: &str, files: &[PathBuf], received: &mut Vec<String>| {
        let mut args = vec!["ingest", "--received", day];
        let ps = paths(files);
        args.extend(ps.iter().map(String::as_str));
        ok(vigie(&dir, store, Some("b.durand"), &args));
        received.extend(ps);
    };
    ingest(days[0].0, &days[0].1, &mut received);
    // Again: nothing new.
    let again = {
        let mut args = vec!["ingest", "--received", "2026-11-11"];
        args.extend(d1.iter().map(String::as_str));
        vigie(&dir, store, Some("b.durand"), &args)
    };
    assert!(
        stderr(&again).contains("déjà reçu le 2026-11-10"),
        "{}",
        stderr(&again)
    );
    assert!(
        stderr(&again).contains("0 fichier(s) reçu(s)"),
        "{}",
        stderr(&again)
    );

    let day1 = reconcile_is_analyze(&dir, store, "2026-11-10", &received);
    assert!(!day1.is_empty());
    ingest(days[1].0, &days[1].1, &mut received);
    reconcile_is_analyze(&dir, store, "2026-11-15", &received);
    ingest(days[2].0, &days[2].1, &mut received);
    let day10 = reconcile_is_analyze(&dir, store, "2026-11-20", &received);
    // The return found its invoice of day 1: its guidance differs from the return's alone.
    let alone = jsonl(&ok(vigie(
        &dir,
        store,
        None,
        &[
            "analyze",
            "-q",
            "--as-of",
            "2026-11-20",
            "--format",
            "jsonl",
            &received[4],
        ],
    )));
    let guidance = |v: &[Value]| -> Vec<Value> {
        v.iter()
            .filter(|l| l["kind"] == "guidance")
            .cloned()
            .collect()
    };
    assert!(!guidance(&day10).is_empty());
    assert_ne!(
        guidance(&day10),
        guidance(&alone),
        "the return is joined to its invoice of an earlier day"
    );

    // Day 10: the late invoice awaits its PJ since its lot's day; not missing yet.
    let s = status(&dir, store, "b.durand", "2026-11-20");
    let waiting = about(&s, "ATTENTE-PJ", LATE);
    assert_eq!(waiting.len(), 1, "{s:#?}");
    assert!(waiting[0]["message"]
        .as_str()
        .unwrap()
        .contains("depuis le 2026-11-10"));
    assert!(about(&s, "PJ-MANQ", LATE).is_empty());
    // Full NIR for gestion, last 4 characters for lecture.
    let nir = |lines: &[Value]| {
        about(lines, "ATTENTE-PJ", LATE)[0]["message"]
            .as_str()
            .unwrap()
            .rsplit("NIR ")
            .next()
            .unwrap()
            .to_string()
    };
    let full = nir(&s);
    assert_eq!(full.len(), 13, "{full}");
    let masked = nir(&status(&dir, store, "c.petit", "2026-11-20"));
    assert_eq!(masked, format!("…{}", &full[9..]));

    // Day 35: the wait is over, PJ-MANQ appears (and letters tell the PS).
    let day35 = reconcile_is_analyze(&dir, store, "2026-12-15", &received);
    assert_eq!(about(&day35, "PJ-MANQ", LATE).len(), 1);
    let s = status(&dir, store, "b.durand", "2026-12-15");
    assert!(about(&s, "ATTENTE-PJ", LATE).is_empty());
    assert_eq!(about(&s, "PJ-MANQ", LATE).len(), 1);
    let out = dir.join("courrier");
    let letters = |agent| {
        vigie(
            &dir,
            store,
            Some(agent),
            &[
                "letters",
                "--as-of",
                "2026-12-15",
                "--out",
                out.to_str().unwrap(),
            ],
        )
    };
    let refused = letters("c.petit");
    assert_eq!(refused.status.code(), Some(4), "lecture sends nothing");
    ok(letters("b.durand"));
    let sent = status(&dir, store, "c.petit", "2026-12-15");
    let told: Vec<&Value> = sent.iter().filter(|l| l["code"] == "COURRIER").collect();
    assert!(
        told.iter().any(|l| l["subject"]["n_facture"] == LATE && {
            let m = l["message"].as_str().unwrap();
            m.starts_with("PJ-MANQ dite par ") && m.contains("le 2026-12-15 (agent b.durand")
        }),
        "{told:#?}"
    );
    let second = letters("b.durand");
    assert!(second.status.success());
    let list = std::fs::read_to_string(out.join("letters.jsonl")).unwrap();
    assert!(
        !list.contains("\"status\":\"written\""),
        "a second mailing sends nothing new"
    );

    // Day 40: the PJ comes, PJ-MANQ is resolved that day; the lot sent again is FAC-DBL.
    ingest(days[3].0, &days[3].1, &mut received);
    let day40 = reconcile_is_analyze(&dir, store, "2026-12-20", &received);
    assert!(about(&day40, "PJ-MANQ", LATE).is_empty());
    assert!(
        about(&day40, "FAC-DBL", LATE).len() == 1,
        "the repeat, of another day, is seen"
    );
    let s = status(&dir, store, "b.durand", "2026-12-20");
    assert!(about(&s, "PJ-MANQ", LATE).is_empty() && about(&s, "ATTENTE-PJ", LATE).is_empty());
    // History: the status of day 35 still shows what was known then.
    assert_eq!(
        about(
            &status(&dir, store, "b.durand", "2026-12-15"),
            "PJ-MANQ",
            LATE
        )
        .len(),
        1
    );

    // A rule set upgrade: every Flux tiers outcome is decided again by the new version.
    let rules = upgraded_rules(&dir);
    let o = {
        let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
        c.args(["reconcile", "--as-of", "2027-01-05", "--format", "jsonl"])
            .current_dir(&dir)
            .env("VIGIE_STORE", store)
            .env("VIGIE_AGENT", "b.durand")
            .env("VIGIE_GRAMMARS", common::path("grammars"))
            .env("VIGIE_RULES", &rules);
        c.output().unwrap()
    };
    assert!(o.status.success(), "{}", stderr(&o));
    let changed: u64 = stderr(&o)
        .split("résolu(s), ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(changed > 0, "{}", stderr(&o));
    let flux = |lines: &[Value], version: &str| {
        let of_set: Vec<&Value> = lines
            .iter()
            .filter(|l| {
                l["ruleset"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("flux-tiers@"))
            })
            .collect();
        !of_set.is_empty() && of_set.iter().all(|l| l["ruleset"] == version)
    };
    assert!(flux(
        &jsonl(&String::from_utf8_lossy(&o.stdout)),
        "flux-tiers@2026.12.0"
    ));
    let now = status(&dir, store, "b.durand", "2027-01-05");
    assert!(flux(&now, "flux-tiers@2026.12.0"), "{now:#?}");
    let then = status(&dir, store, "b.durand", "2026-12-20");
    assert!(
        flux(&then, "flux-tiers@2026.11.0"),
        "the status of a day before shows what was decided then"
    );
    // A reconcile may not go back in time.
    let back = vigie(
        &dir,
        store,
        Some("b.durand"),
        &["reconcile", "-q", "--as-of", "2026-12-01"],
    );
    assert_eq!(back.status.code(), Some(1), "{}", stderr(&back));

    // The audit trail: who did what, about whom.
    let trail = audit(&dir, store);
    let actions: Vec<(&str, &str)> = trail
        .iter()
        .map(|e| (e["agent"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    let count = |agent: &str, action: &str| {
        actions
            .iter()
            .filter(|(a, x)| *a == agent && *x == action)
            .count()
    };
    assert_eq!(count("a.martin", "agents add"), 4);
    assert_eq!(count("a.martin", "agents disable"), 1);
    assert_eq!(
        count("b.durand", "ingest"),
        7,
        "7 files stored, the repeats not"
    );
    assert_eq!(count("b.durand", "reconcile"), 6);
    assert!(count("b.durand", "letters") > 0);
    assert!(count("c.petit", "status") >= 2);
    assert!(trail.iter().any(|e| e["action"] == "ingest"
        && e["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s == &format!("n_ps={PS}"))));
    let by = jsonl(&ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &["audit", "--json", "--by", "c.petit"],
    )));
    assert!(!by.is_empty() && by.iter().all(|e| e["agent"] == "c.petit"));
    let about_ps = jsonl(&ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &["audit", "--json", "--subject", &format!("n_ps={PS}")],
    )));
    assert!(about_ps.iter().any(|e| e["action"] == "letters"));
    ok(vigie(&dir, store, Some("c.petit"), &["audit", "verify"]));

    // Purge after 36 months: day 1's files go the day after their 36 months, not before.
    let dry = |day: &str| -> Value {
        serde_json::from_str(&ok(vigie(
            &dir,
            store,
            Some("a.martin"),
            &["purge", "--dry-run", "--json", "--as-of", day],
        )))
        .unwrap()
    };
    assert_eq!(dry("2029-11-10")["files"], 0, "exactly 36 months: kept");
    let report = dry("2029-11-11");
    assert_eq!(report["files"], 3, "{report}");
    assert!(report["facts"].as_u64().unwrap() > 100);
    let before = status(&dir, store, "b.durand", "2027-01-05").len();
    let purged: Value = serde_json::from_str(&ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &["purge", "--json", "--as-of", "2029-11-11"],
    )))
    .unwrap();
    assert_eq!(
        (
            purged["files"].clone(),
            purged["facts"].clone(),
            purged["outcomes"].clone()
        ),
        (
            report["files"].clone(),
            report["facts"].clone(),
            report["outcomes"].clone()
        )
    );
    let after = status(&dir, store, "b.durand", "2027-01-05");
    assert!(after.len() < before);
    assert!(
        after.iter().all(|l| l["source"]["file"]
            .as_str()
            .is_none_or(|f| !f.contains("/j01/"))),
        "nothing of day 1 is left"
    );
    assert!(
        about(&after, "FAC-DBL", LATE).len() == 1,
        "day 40's lot stays"
    );
    let everything: Value = serde_json::from_str(&ok(vigie(
        &dir,
        store,
        Some("a.martin"),
        &["purge", "--json", "--as-of", "2030-06-01"],
    )))
    .unwrap();
    assert_eq!(everything["files"], 4);
    assert!(everything["letters"].as_u64().unwrap() > 0);
    let empty = status(&dir, store, "b.durand", "2030-06-01");
    assert!(empty.is_empty(), "{empty:#?}");
    if store.starts_with("postgres") {
        assert!(
            everything["partitions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p == "facts_p2026_11"),
            "{everything}"
        );
    }
    // The purges are in the trail, which is intact.
    let trail = audit(&dir, store);
    assert_eq!(trail.iter().filter(|e| e["action"] == "purge").count(), 2);
    assert_eq!(
        trail
            .iter()
            .filter(|e| e["action"] == "purge --dry-run")
            .count(),
        2
    );
    ok(vigie(&dir, store, Some("c.petit"), &["audit", "verify"]));
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn months_of_flow_on_sqlite() {
    let dir = scratch("sqlite-db");
    scenario(
        &format!("sqlite:{}", dir.join("vigie.db").display()),
        "sqlite",
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn months_of_flow_on_postgresql() {
    let url = common::pg::database("flow");
    scenario(&url, "postgres");
    common::pg::release();
}

/// A trail of four entries: the administrator, then three `lecture` agents it registers.
fn four_agents(dir: &Path, store: &str) {
    first_administrator(dir, store);
    for id in ["b", "c", "d"] {
        ok(vigie(
            dir,
            store,
            Some("a.martin"),
            &[
                "agents", "add", id, "--nom", "N", "--prenom", "P", "--role", "lecture",
            ],
        ));
    }
}

/// An edited entry: `audit verify` finds it, once the triggers that refuse it are dropped.
fn tampering_is_found(store: &str, dir: &Path, sql: &dyn Fn(&str)) {
    four_agents(dir, store);
    ok(vigie(dir, store, Some("a.martin"), &["audit", "verify"]));
    // vigie never changes the trail: the database refuses it.
    sql("UPDATE audit SET agent = 'x' WHERE seq = 2");
    sql("DROP TRIGGER IF EXISTS audit_no_update");
    sql("DROP TRIGGER IF EXISTS audit_no_delete");
    sql("DROP TRIGGER IF EXISTS audit_no_change ON audit");
    sql("UPDATE audit SET subjects = '[\"agent=z\"]' WHERE seq = 2");
    let o = vigie(dir, store, Some("a.martin"), &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("entrée 2"), "{}", stderr(&o));
}

#[test]
fn an_edited_audit_entry_is_found_on_both_databases() {
    let dir = scratch("tamper");
    let db = dir.join("vigie.db");
    let sqlite = format!("sqlite:{}", db.display());
    tampering_is_found(&sqlite, &dir, &|sql| {
        let c = rusqlite::Connection::open(&db).unwrap();
        let _ = c.execute_batch(sql);
    });
    let url = common::pg::database("tamper");
    tampering_is_found(&url, &dir, &|sql| {
        let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let _ = c.batch_execute(sql);
    });
    common::pg::release();
    std::fs::remove_dir_all(dir).ok();
}

/// A deleted entry and deleted last entries are found too (SQLite).
#[test]
fn a_deleted_audit_entry_is_found() {
    let dir = scratch("deleted");
    let db = dir.join("vigie.db");
    let store = format!("sqlite:{}", db.display());
    four_agents(&dir, &store);
    let c = rusqlite::Connection::open(&db).unwrap();
    assert!(
        c.execute_batch("DELETE FROM audit WHERE seq = 4").is_err(),
        "append only"
    );
    c.execute_batch("DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 4")
        .unwrap();
    let o = vigie(&dir, &store, Some("a.martin"), &["audit", "verify"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("dernière entrée enregistrée est la 4"),
        "{}",
        stderr(&o)
    );
    c.execute_batch("DELETE FROM audit WHERE seq = 2").unwrap();
    let o = vigie(&dir, &store, Some("a.martin"), &["audit", "verify"]);
    assert!(stderr(&o).contains("entrée 2 absente"), "{}", stderr(&o));
    std::fs::remove_dir_all(dir).ok();
}

/// A store written by a newer vigie is refused, with what to do.
#[test]
fn a_newer_schema_is_refused() {
    let dir = scratch("newer");
    let db = dir.join("vigie.db");
    let store = format!("sqlite:{}", db.display());
    first_administrator(&dir, &store);
    let c = rusqlite::Connection::open(&db).unwrap();
    c.execute_batch(
        "INSERT INTO vigie_schema (version, name, applied_at) VALUES (99, 'futur', 'x')",
    )
    .unwrap();
    let o = vigie(&dir, &store, Some("a.martin"), &["agents", "list"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("schéma 99") && stderr(&o).contains("mettez vigie à jour"),
        "{}",
        stderr(&o)
    );
    std::fs::remove_dir_all(dir).ok();
}

/// A B2 file of `lots` copies of lot 07's lots (about 45 kB each), numbered apart.
fn big_b2(path: &Path, copies: usize) {
    let text = std::fs::read(common::path("examples/lot-07-132202888.b2")).unwrap();
    let lines: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let (head, body, tail) = (lines[0], &lines[1..lines.len() - 1], lines[lines.len() - 1]);
    let mut out = Vec::with_capacity(text.len() * copies);
    out.extend_from_slice(head);
    out.push(b'\n');
    for _ in 0..copies {
        for l in body {
            out.extend_from_slice(l);
            out.push(b'\n');
        }
    }
    out.extend_from_slice(tail);
    out.push(b'\n');
    std::fs::write(path, out).unwrap();
}

fn count(store: &str, dir: &Path) -> (u64, u64) {
    let o = ok(vigie(
        dir,
        store,
        Some("a.martin"),
        &["purge", "--dry-run", "--json", "--as-of", "2100-01-01"],
    ));
    let v: Value = serde_json::from_str(&o).unwrap();
    (v["files"].as_u64().unwrap(), v["facts"].as_u64().unwrap())
}

/// `kill -9` in the middle of a file's ingest: the store is as before that file, and the next
/// run completes it, with nothing lost or twice.
fn killed_mid_file(store: &str, tag: &str) {
    let dir = scratch(tag);
    first_administrator(&dir, store);
    let small = dir.join("lot-small.b2");
    std::fs::copy(common::path("examples/lot-07-132202888.b2"), &small).unwrap();
    let big = dir.join("lot-big.b2");
    big_b2(&big, 1500);
    // Reference: the two files ingested without interruption into a store of their own.
    let (files, facts) = {
        let refdir = scratch(&format!("{tag}-ref"));
        let reference = format!("sqlite:{}", refdir.join("ref.db").display());
        first_administrator(&refdir, &reference);
        ok(vigie(
            &refdir,
            &reference,
            Some("a.martin"),
            &[
                "ingest",
                "-q",
                small.to_str().unwrap(),
                big.to_str().unwrap(),
            ],
        ));
        let c = count(&reference, &refdir);
        std::fs::remove_dir_all(refdir).ok();
        c
    };
    assert_eq!(files, 2);
    let mut child = Command::new(env!("CARGO_BIN_EXE_vigie"))
        .args(["ingest", small.to_str().unwrap(), big.to_str().unwrap()])
        .current_dir(&dir)
        .env("VIGIE_STORE", store)
        .env("VIGIE_AGENT", "a.martin")
        .env("VIGIE_GRAMMARS", common::path("grammars"))
        .env("VIGIE_RULES", common::path("rules"))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Kill it once the small file is in and the big one under way.
    let stderr_pipe = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stderr_pipe)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let started = Instant::now();
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("ingest reports the small file");
        if line.contains("lot-small.b2 : reçu") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        child.try_wait().unwrap().is_none(),
        "still ingesting the big file when killed"
    );
    let killed = Command::new("kill")
        .args(["-9", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    child.wait().unwrap();
    let (f, _) = count(store, &dir);
    assert_eq!(f, 1, "the small file is in, nothing of the big one");
    // Again: the small one is skipped, the big one completed.
    let again = vigie(
        &dir,
        store,
        Some("a.martin"),
        &["ingest", small.to_str().unwrap(), big.to_str().unwrap()],
    );
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(stderr(&again).contains("lot-small.b2 : déjà reçu"));
    assert_eq!(
        count(store, &dir),
        (files, facts),
        "nothing lost, nothing twice"
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_killed_ingest_loses_and_duplicates_nothing_on_sqlite() {
    let dir = scratch("kill-db");
    killed_mid_file(
        &format!("sqlite:{}", dir.join("vigie.db").display()),
        "kill-sqlite",
    );
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn a_killed_ingest_loses_and_duplicates_nothing_on_postgresql() {
    let url = common::pg::database("kill");
    killed_mid_file(&url, "kill-postgres");
    common::pg::release();
}

/// A partly unreadable file is kept for what can be read, with its errors, and reconcile
/// reports them as analyze does; a file with nothing readable is refused and nothing kept.
#[test]
fn a_damaged_file_is_kept_with_its_errors_and_an_unreadable_one_refused() {
    let dir = scratch("damaged");
    let store = format!("sqlite:{}", dir.join("vigie.db").display());
    first_administrator(&dir, &store);
    let damaged = common::path("tests/data/broken/lot-casse.b2")
        .display()
        .to_string();
    let o = vigie(
        &dir,
        &store,
        Some("a.martin"),
        &["ingest", "--received", "2026-11-20", &damaged],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let kept: usize = stderr(&o)
        .split("faits, ")
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(
        kept > 0,
        "its reading errors are kept with it: {}",
        stderr(&o)
    );
    let r = ok(vigie(
        &dir,
        &store,
        Some("a.martin"),
        &[
            "reconcile",
            "-q",
            "--as-of",
            "2026-11-20",
            "--format",
            "jsonl",
        ],
    ));
    let a = ok(vigie(
        &dir,
        &store,
        None,
        &[
            "analyze",
            "-q",
            "--as-of",
            "2026-11-20",
            "--format",
            "jsonl",
            &damaged,
        ],
    ));
    assert_eq!(r, a);
    let errors = jsonl(&r).iter().filter(|l| l["kind"] == "error").count();
    assert_eq!(errors, kept, "the errors kept are those analyze reports");
    assert!(
        jsonl(&r).iter().any(|l| l["kind"] == "anomaly"),
        "the readable part is analysed"
    );

    let binary = common::path("tests/data/broken/binaire.b2")
        .display()
        .to_string();
    let o = vigie(&dir, &store, Some("a.martin"), &["ingest", &binary]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("binaire.b2 : refusé : aucun enregistrement lisible"),
        "{}",
        stderr(&o)
    );
    let (files, _) = count(&store, &dir);
    assert_eq!(files, 1, "nothing kept of the unreadable file");
    std::fs::remove_dir_all(dir).ok();
}

/// Files are read by several threads but settled and stored in the order given: a copy of a
/// file given in the same run is found received (the reader cannot see it yet: the writer does),
/// an unreadable file is refused in its place, and the audit trail follows the same order.
#[test]
fn files_are_settled_in_the_order_given_and_a_copy_in_the_same_run_is_skipped() {
    let dir = scratch("order");
    let store = format!("sqlite:{}", dir.join("vigie.db").display());
    first_administrator(&dir, &store);
    let example = |name: &str| common::path("examples").join(name);
    let copy = dir.join("copie-du-lot-01.b2");
    std::fs::copy(example("lot-01-992748186.b2"), &copy).unwrap();
    let given = [
        example("lot-01-992748186.b2"),
        example("pieces.scor.csv"),
        copy,
        common::path("tests/data/broken/binaire.b2"),
        example("lot-02-752379560.b2"),
        example("retour-01.noemie"),
    ];
    let mut args = vec![
        "ingest".to_string(),
        "--received".into(),
        "2026-11-20".into(),
    ];
    args.extend(paths(&given));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = vigie(&dir, &store, Some("a.martin"), &args);
    assert_eq!(o.status.code(), Some(1), "one file refused: {}", stderr(&o));
    let settled: Vec<(String, &str)> = stderr(&o)
        .lines()
        .filter_map(|l| {
            let (file, what) = l.strip_prefix("vigie: ")?.split_once(" : ")?;
            let file = Path::new(file).file_name()?.to_string_lossy().into_owned();
            let what = ["reçu (", "déjà reçu", "refusé"]
                .into_iter()
                .find(|w| what.starts_with(w))?;
            Some((file, what))
        })
        .collect();
    let expected = [
        ("lot-01-992748186.b2", "reçu ("),
        ("pieces.scor.csv", "reçu ("),
        ("copie-du-lot-01.b2", "déjà reçu"),
        ("binaire.b2", "refusé"),
        ("lot-02-752379560.b2", "reçu ("),
        ("retour-01.noemie", "reçu ("),
    ];
    let expected: Vec<(String, &str)> = expected.iter().map(|(f, w)| (f.to_string(), *w)).collect();
    assert_eq!(settled, expected, "{}", stderr(&o));
    let ingests: Vec<String> = audit(&dir, &store)
        .iter()
        .filter(|e| e["action"] == "ingest")
        .filter_map(|e| {
            let subjects = e["subjects"].as_array()?;
            let file = subjects.first()?.as_str()?.strip_prefix("fichier=")?;
            Some(Path::new(file).file_name()?.to_string_lossy().into_owned())
        })
        .collect();
    assert_eq!(
        ingests,
        [
            "lot-01-992748186.b2",
            "pieces.scor.csv",
            "lot-02-752379560.b2",
            "retour-01.noemie"
        ]
    );
    std::fs::remove_dir_all(dir).ok();
}
