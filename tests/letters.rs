//! `vigie letters` against real components: a real SMTP server on the loopback interface
//! (aiosmtpd, with its Maildir handler: `pip install aiosmtpd`, which `.ci/run` does), the
//! outbox of `.eml` files, the register in the store that makes a second run send nothing new,
//! and a server that is down losing nothing.

mod common;

use common::stderr;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn vigie(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_vigie"));
    c.args(args).current_dir(common::root());
    c.env_remove("VIGIE_SMTP_URL").env_remove("VIGIE_AGENT");
    for (k, v) in env {
        c.env(k, v);
    }
    c.output().expect("vigie runs")
}

/// A clean folder whose store (`vigie.db`) has two agents: `a.martin` (Agnès Martin,
/// administration) and `b.durand` (Bruno Durand, gestion).
fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("vigie-letters-{tag}-{}", std::process::id()));
    std::fs::remove_dir_all(&d).ok();
    std::fs::create_dir_all(&d).unwrap();
    let store = store_of(&d);
    for (id, nom, prenom, role, by) in [
        ("a.martin", "Martin", "Agnès", "administration", ""),
        ("b.durand", "Durand", "Bruno", "gestion", "a.martin"),
    ] {
        let o = vigie(
            &[
                "agents", "add", id, "--nom", nom, "--prenom", prenom, "--role", role,
            ],
            &[("VIGIE_STORE", &store), ("VIGIE_AGENT", by)],
        );
        assert!(o.status.success(), "{}", stderr(&o));
    }
    d
}

/// The store URL of a scratch folder.
fn store_of(dir: &Path) -> String {
    format!("sqlite:{}", dir.join("vigie.db").display())
}

/// The letters the store records as sent on or before 2026-11-20 (`vigie status` lines).
fn recorded(dir: &Path) -> Vec<serde_json::Value> {
    let store = store_of(dir);
    let o = vigie(
        &["status", "--as-of", "2026-11-20", "--format", "jsonl"],
        &[("VIGIE_STORE", &store), ("VIGIE_AGENT", "a.martin")],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|l| l["code"] == "COURRIER")
        .collect()
}

/// A port nothing listens on now.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A real SMTP server (aiosmtpd) on `port`, storing what it accepts into `maildir`.
struct Smtp(Child);

impl Smtp {
    fn start(port: u16, maildir: &Path) -> Smtp {
        let child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 runs");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "the SMTP server did not start: this test needs `pip install aiosmtpd` (.ci/run installs it)"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Smtp(child)
    }
}

impl Drop for Smtp {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Every message the server stored, as text.
fn received(maildir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["new", "cur"] {
        if let Ok(rd) = std::fs::read_dir(maildir.join(sub)) {
            for e in rd {
                out.push(std::fs::read_to_string(e.unwrap().path()).unwrap());
            }
        }
    }
    out
}

/// The sample set's files the letters need: a lot, the PJ index, NOEMIE returns, the directory
/// of PS and the CAS files.
fn inputs() -> String {
    common::path("tests/data/samples").display().to_string()
}

fn lines(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn status_count(list: &[serde_json::Value], status: &str) -> usize {
    list.iter().filter(|l| l["status"] == status).count()
}

#[test]
fn letters_go_to_a_real_smtp_server_once_and_a_server_down_loses_nothing() {
    let dir = scratch("smtp");
    let out = dir.join("courrier");
    let maildir = dir.join("maildir");
    let port = free_port();
    let url = format!("smtp://127.0.0.1:{port}");
    let store = store_of(&dir);
    let env = [
        ("VIGIE_STORE", store.as_str()),
        ("VIGIE_SMTP_URL", url.as_str()),
        ("VIGIE_AGENT", "a.martin"),
        ("VIGIE_MAIL_FROM", "Caisse <flux-tiers@cpam.example>"),
    ];
    let args = [
        "letters",
        "--as-of",
        "2026-11-20",
        "--out",
        out.to_str().unwrap(),
    ];
    let mut all: Vec<&str> = args.to_vec();
    let inputs = inputs();
    all.push(&inputs);

    // 1. The server is down: every e-mail fails, nothing is recorded as sent.
    let down = vigie(&all, &env);
    assert_eq!(down.status.code(), Some(1), "{}", stderr(&down));
    assert!(stderr(&down).contains("injoignable"), "{}", stderr(&down));
    let list = lines(&out.join("letters.jsonl"));
    let emails = list.iter().filter(|l| l["channel"] == "email").count();
    assert!(emails > 10, "{emails} e-mails");
    assert!(list
        .iter()
        .filter(|l| l["channel"] == "email")
        .all(|l| l["status"] == "failed"));
    let registered = recorded(&dir);
    assert!(
        !registered
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("par email")),
        "no e-mail recorded as sent while the server was down"
    );

    // 2. The server is up: every e-mail goes, received as sent.
    let server = Smtp::start(port, &maildir);
    let up = vigie(&all, &env);
    assert_eq!(up.status.code(), Some(0), "{}", stderr(&up));
    let list = lines(&out.join("letters.jsonl"));
    assert_eq!(status_count(&list, "sent"), emails, "{}", stderr(&up));
    let got = received(&maildir);
    assert_eq!(got.len(), emails, "one message per e-mail letter");

    // What the server received: recipient, sender, UTF-8 subject and accents, the agent, no NIR.
    let dubois = got
        .iter()
        .find(|m| m.contains("ps336043909@example.org"))
        .expect("the letter to Cabinet Dubois");
    let parsed = decode(dubois);
    assert!(
        parsed.contains("To: \"Cabinet Dubois\" <ps336043909@example.org>"),
        "{parsed}"
    );
    assert!(
        parsed.contains("From: Caisse <flux-tiers@cpam.example>"),
        "{parsed}"
    );
    assert!(
        parsed.contains("X-RcptTo: ps336043909@example.org"),
        "{parsed}"
    );
    assert!(parsed.contains("vos factures à corriger"), "{parsed}");
    assert!(parsed.contains("Paris, le 20/11/2026"), "{parsed}");
    assert!(parsed.contains("Nos contrôles ont relevé"), "{parsed}");
    assert!(parsed.contains("Facture 000342603"), "{parsed}");
    assert!(parsed.contains("Agnès Martin"), "{parsed}");
    // The letter rides along as a printable PDF.
    let pdf = attachment(dubois, "ps-336043909.pdf");
    assert!(pdf.starts_with(b"%PDF-"), "a PDF attached");
    let path = dir.join("attached.pdf");
    std::fs::write(&path, &pdf).unwrap();
    let text = pdf_text(&path, 1);
    assert!(
        text.contains("Nos contrôles ont relevé") && text.contains("Cabinet Dubois"),
        "{text}"
    );
    for m in &got {
        let text = decode(m);
        assert_eq!(vigie::mask_nirs(&text), text, "no NIR in a letter");
    }
    let doctors = got
        .iter()
        .filter(|m| m.contains("@example.org") && m.contains("dr"))
        .count();
    assert!(doctors > 0, "doctors are written to as well");

    // 3. A second run sends nothing new.
    let again = vigie(&all, &env);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    let list = lines(&out.join("letters.jsonl"));
    assert_eq!(status_count(&list, "sent"), 0);
    assert!(status_count(&list, "already_sent") >= emails);
    assert_eq!(received(&maildir).len(), emails, "nothing received twice");
    // The register, in the store, names the agent who ran the mailing.
    let registered = recorded(&dir);
    assert!(registered
        .iter()
        .any(|l| l["message"].as_str().unwrap().contains("par email")
            && l["message"].as_str().unwrap().contains("agent a.martin")));
    drop(server);
    std::fs::remove_dir_all(dir).ok();
}

/// The message as text: headers, and the quoted-printable body and encoded words decoded.
fn decode(raw: &str) -> String {
    let (head, body) = raw.split_once("\n\n").unwrap_or((raw, ""));
    let head = head.replace("\n ", " ");
    let mut text = String::new();
    for line in head.lines() {
        text.push_str(&decode_words(line));
        text.push('\n');
    }
    text.push('\n');
    text.push_str(&quoted_printable(body));
    text
}

/// The bytes of the attachment called `name` (base64) in a raw message.
fn attachment(raw: &str, name: &str) -> Vec<u8> {
    let raw = raw.replace("\r\n", "\n");
    let at = raw
        .find(&format!("filename=\"{name}\""))
        .unwrap_or_else(|| panic!("no attachment {name}"));
    let part = &raw[at..];
    let start = part.find("\n\n").unwrap() + 2;
    let end = part[start..].find("\n--").map_or(part.len(), |e| start + e);
    let b64: String = part[start..end].split_whitespace().collect();
    base64(&b64)
}

/// RFC 2047 `=?utf-8?b?…?=` words.
fn decode_words(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find("=?utf-8?b?") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 10..];
        let end = after.find("?=").unwrap();
        out.push_str(&String::from_utf8(base64(&after[..end])).unwrap());
        rest = &after[end + 2..];
        // Encoded words separated by a space join without it.
        if rest.starts_with(" =?utf-8?b?") {
            rest = &rest[1..];
        }
    }
    out.push_str(rest);
    out
}

fn base64(s: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | alphabet.iter().position(|&a| a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&joined[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

#[test]
fn without_a_server_letters_go_to_the_outbox_and_a_dry_run_sends_nothing() {
    let dir = scratch("outbox");
    let out = dir.join("courrier");
    let inputs = inputs();
    let letters = |extra: &[&str]| {
        let mut args = vec![
            "letters",
            "--as-of",
            "2026-11-20",
            "--out",
            out.to_str().unwrap(),
        ];
        args.extend(extra);
        args.push(&inputs);
        vigie(&args, &[("VIGIE_STORE", &store_of(&dir))])
    };
    let dry = letters(&["--dry-run", "--agent", "b.durand"]);
    assert_eq!(dry.status.code(), Some(0), "{}", stderr(&dry));
    let list = lines(&out.join("letters.jsonl"));
    assert!(status_count(&list, "dry_run") > 20);
    assert!(
        !out.join("outbox").exists() && recorded(&dir).is_empty() && !out.join("cas").exists(),
        "a dry run writes nothing but its list"
    );
    // The PS of lot 02 is not in the directory: reported, with what it would have been told.
    let unaddressed: Vec<&serde_json::Value> = list
        .iter()
        .filter(|l| l["status"] == "unaddressed")
        .collect();
    assert_eq!(unaddressed.len(), 1, "{unaddressed:#?}");
    assert_eq!(unaddressed[0]["recipient"], "752379560");
    assert!(stderr(&dry).contains("752379560 absent de l'annuaire"));

    // Without an agent, or with one the store does not know, nothing is sent.
    let nobody = letters(&[]);
    assert_eq!(nobody.status.code(), Some(4), "{}", stderr(&nobody));
    assert!(stderr(&nobody).contains("--agent"));
    let stranger = letters(&["--agent", "x.inconnu"]);
    assert_eq!(stranger.status.code(), Some(4), "{}", stderr(&stranger));
    assert!(stderr(&stranger).contains("« x.inconnu » inconnu"));
    assert!(!out.join("outbox").exists());

    let sent = letters(&["--agent", "b.durand"]);
    assert_eq!(sent.status.code(), Some(0), "{}", stderr(&sent));
    let list = lines(&out.join("letters.jsonl"));
    let written: Vec<&serde_json::Value> = list
        .iter()
        .filter(|l| l["channel"] == "email" && l["status"] == "written")
        .collect();
    assert!(!written.is_empty());
    for l in &written {
        let file = PathBuf::from(l["file"].as_str().unwrap());
        let eml = std::fs::read_to_string(&file).unwrap();
        assert!(
            eml.contains("Subject: ") && eml.contains("Content-Type: text/plain; charset=utf-8")
        );
    }
    // The same run wrote the CAS files for the organisms.
    assert_eq!(
        std::fs::read(out.join("cas/participations-2025.csv")).unwrap(),
        std::fs::read(common::path(
            "tests/data/expected-cas/participations-2025.csv"
        ))
        .unwrap()
    );
    assert!(out.join("cas/retour-ACOSS-2025.csv").is_file());
    // A doctor's line carries the participation.
    let doctor = list
        .iter()
        .find(|l| l["kind"] == "medecin" && l["participation"]["statut"] == "A_PAYER")
        .expect("a paid doctor");
    assert!(doctor["participation"]["montant"]
        .as_str()
        .unwrap()
        .contains('.'));
    std::fs::remove_dir_all(dir).ok();
}

/// The text of page `page` of a PDF, by poppler's `pdftotext` (`.ci/run` installs
/// poppler-utils).
fn pdf_text(pdf: &Path, page: u32) -> String {
    let o = Command::new("pdftotext")
        .args(["-layout", "-f", &page.to_string(), "-l", &page.to_string()])
        .arg(pdf)
        .arg("-")
        .output()
        .expect("pdftotext runs (apt install poppler-utils)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

#[test]
fn postal_letters_are_a4_pdfs_that_read_back() {
    let dir = scratch("pdf");
    let out = dir.join("courrier");
    let inputs = inputs();
    let o = vigie(
        &[
            "letters",
            "--agent",
            "a.martin",
            "--as-of",
            "2026-11-20",
            "--out",
            out.to_str().unwrap(),
            &inputs,
        ],
        &[("VIGIE_STORE", &store_of(&dir))],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let list = lines(&out.join("letters.jsonl"));
    let postal: Vec<PathBuf> = list
        .iter()
        .filter(|l| l["channel"] == "postal" && l["status"] == "written")
        .map(|l| PathBuf::from(l["file"].as_str().unwrap()))
        .collect();
    assert!(postal.len() > 10, "{} postal letters", postal.len());
    let mut flowed = 0;
    for pdf in &postal {
        let bytes = std::fs::read(pdf).unwrap();
        assert!(bytes.starts_with(b"%PDF-"), "{}", pdf.display());
        assert!(bytes.len() < 200_000, "fonts subset: {} bytes", bytes.len());
        // A4 (595 × 842 points) and the fonts embedded.
        let info = Command::new("pdfinfo").arg(pdf).output().unwrap();
        let info = String::from_utf8_lossy(&info.stdout).into_owned();
        assert!(
            info.contains("595.276 x 841.89 pts") || info.contains("595.28 x 841.89 pts"),
            "{info}"
        );
        let first = pdf_text(pdf, 1);
        assert!(first.contains("Agnès Martin"), "{first}");
        assert_eq!(vigie::mask_nirs(&first), first, "no NIR in a letter");
        let pages: u32 = info
            .lines()
            .find_map(|l| l.strip_prefix("Pages:"))
            .and_then(|p| p.trim().parse().ok())
            .unwrap();
        if pages > 1 {
            // The table flowed onto the next page, its header repeated there.
            let next = pdf_text(pdf, 2);
            assert!(
                next.contains("Facture") && next.contains("Points relevés"),
                "{next}"
            );
            assert!(next.contains(&format!("page 2 / {pages}")), "{next}");
            flowed += 1;
        }
    }
    assert!(flowed > 0, "some letter's table runs onto a second page");
    // A PS's letter: its name and address in the window, accents, its invoices in the table.
    let petit = out.join("postal/ps-132202888.pdf");
    let text = pdf_text(&petit, 1);
    for expected in [
        "Cabinet Petit",
        "7 place de la République",
        "75011 PARIS",
        "Paris, le 20/11/2026",
        "Factures concernées",
        "000144003",
        "Objet : Assurance Maladie — vos factures à corriger",
    ] {
        assert!(text.contains(expected), "{expected}:\n{text}");
    }
    // The address sits in the window of a DL envelope: right half, upper third of the page.
    let bbox = Command::new("pdftotext")
        .args(["-bbox", "-f", "1", "-l", "1"])
        .arg(&petit)
        .arg("-")
        .output()
        .unwrap();
    let html = String::from_utf8_lossy(&bbox.stdout).into_owned();
    let word = html
        .lines()
        .find(|l| l.contains(">Petit<"))
        .expect("the name's box");
    let coord = |k: &str| -> f32 {
        let at = word.find(&format!("{k}=\"")).unwrap() + k.len() + 2;
        word[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (x_mm, y_mm) = (coord("xMin") * 0.3528, coord("yMin") * 0.3528);
    assert!(
        (100.0..140.0).contains(&x_mm) && (40.0..65.0).contains(&y_mm),
        "name at {x_mm} mm, {y_mm} mm"
    );
    std::fs::remove_dir_all(dir).ok();
}
