//! `vigie letters`: analyse the files and write the letters — to each PS about its rejected or
//! flagged invoices, to each doctor about the CAS participation — by e-mail or for the post.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use chrono::NaiveDate;

use super::analyze::parse_date;
use super::store::{exit_of, StoreArgs};
use super::{Folders, EXIT_CANNOT_RUN, EXIT_USAGE};
use vigie::{Channel, Delivery, Mailer, Options, Role, Status};

#[derive(Debug, clap::Args)]
#[command(after_help = "Where letters go (under --out, ./courrier by default):
  outbox/          e-mails as .eml files, when no SMTP server is configured
  postal/          letters for the post (a PS without Compagnon or e-mail, a doctor without e-mail)
  cas/             the CAS returns to the organisms and the participations (as vigie cas writes them)
  letters.jsonl    this run's letters, one JSON object per letter (status sent, written, failed,
                   already_sent, dry_run, unaddressed)

E-mail by SMTP: set VIGIE_SMTP_URL (smtp://host:port, smtp://user:password@host:587?tls=required,
smtps://host) and VIGIE_MAIL_FROM (\"Assurance Maladie <flux-tiers@exemple.fr>\"); credentials never
go on the command line. A server that does not answer is tried 3 times; a letter is recorded as
sent only once the server accepted it.

What was sent, to whom, when and by which agent is recorded in the store (--store, VIGIE_STORE;
sqlite:vigie.db by default) as each letter is delivered: a second run sends only what is new. The
agent (--agent, VIGIE_AGENT) must be registered (vigie agents add), with the role gestion; a
--dry-run needs the role lecture. Without PATH, the files the store received by --as-of are read.

Texts are the templates of each rule set's letters/ folder (ps.txt.j2, medecin.txt.j2…).

Exit codes: 0 every letter delivered (or nothing new), 1 a letter failed or nothing could run,
2 usage error.

Examples:
  vigie letters --dry-run --as-of 2026-11-20 examples/
  VIGIE_AGENT=a.martin vigie letters --as-of 2026-11-20 examples/
  VIGIE_AGENT=a.martin vigie letters --as-of 2026-12-01          # the files of the store")]
pub struct Args {
    /// Files or folders to analyse (the directory of PS annuaire-ps.csv and cas-adherents.csv
    /// among them give the addresses) [default: the files the store received by --as-of].
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,
    /// Lists what would be sent to whom by which channel; sends and records nothing.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    store: StoreArgs,
    /// Date of the analysis and of the letters (AAAA-MM-JJ) [default: today].
    #[arg(long, value_name = "AAAA-MM-JJ", value_parser = parse_date)]
    as_of: Option<NaiveDate>,
    /// Folder of the outbox, postal letters, CAS files and letters.jsonl.
    #[arg(long, value_name = "DIR", default_value = "courrier")]
    out: PathBuf,
    #[command(flatten)]
    folders: Folders,
    /// No summary on stderr.
    #[arg(long, short)]
    quiet: bool,
}

const DEFAULT_FROM: &str = "Assurance Maladie <flux-tiers@cpam.invalid>";

pub fn run(a: Args) -> ExitCode {
    let fail = |code: u8, msg: String| {
        say!("vigie: {msg}");
        ExitCode::from(code)
    };
    let needs = if a.dry_run {
        Role::Lecture
    } else {
        Role::Gestion
    };
    let (mut store, agent) = match a.store.open_as("letters", needs) {
        Ok(s) => s,
        Err(code) => return code,
    };
    // Letters are signed with the agent's name; the register keeps its identifier.
    let signer = format!("{} {}", agent.prenom, agent.nom);
    let agent = agent.id;
    let from_text = std::env::var("VIGIE_MAIL_FROM").unwrap_or_else(|_| DEFAULT_FROM.into());
    let from = match from_text.parse() {
        Ok(f) => f,
        Err(e) => return fail(EXIT_USAGE, format!("VIGIE_MAIL_FROM « {from_text} » : {e}")),
    };
    let mailer = match std::env::var("VIGIE_SMTP_URL") {
        Ok(url) if !url.is_empty() => match Mailer::smtp(&url) {
            Ok(m) => m,
            Err(e) => return fail(EXIT_USAGE, format!("VIGIE_SMTP_URL : {e}")),
        },
        _ => Mailer::Outbox(a.out.join("outbox")),
    };
    let date = a.as_of.unwrap_or_else(|| chrono::Local::now().date_naive());
    let (loaded, inputs) = if a.paths.is_empty() {
        let loaded = match a.folders.load(a.quiet) {
            Ok(l) => l,
            Err(m) => return fail(EXIT_CANNOT_RUN, m),
        };
        match store.inputs(date) {
            Ok(i) => (loaded, i),
            Err(e) => return exit_of(&e),
        }
    } else {
        match a.folders.load_with(&a.paths, a.quiet) {
            Ok((l, walk)) => (l, vigie::files(&walk.files)),
            Err(code) => return code,
        }
    };
    let mut register = match store.sent_register() {
        Ok(r) => r,
        Err(e) => return exit_of(&e),
    };
    let opts = Options {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        as_of: Some(date),
        ..Options::default()
    };
    let told_before = |key: &str| register.told(key);
    let (analysis, letters, cas) = loaded.setup.letters(inputs, &opts, &signer, &told_before);
    if analysis.readable_inputs == 0 {
        return fail(EXIT_CANNOT_RUN, "aucune entrée lisible".into());
    }
    let run = vigie::MailRun {
        mailer: &mailer,
        from: &from,
        postal_dir: &a.out.join("postal"),
        dry_run: a.dry_run,
        date: &date.format("%Y-%m-%d").to_string(),
        agent: &agent,
    };
    let mut deliveries: Vec<Delivery> = vigie::deliver(&letters.letters, &run, &mut register);
    deliveries.extend(
        letters
            .already_sent
            .iter()
            .map(|l| Delivery::of(l, Status::AlreadySent)),
    );
    deliveries.extend(
        letters
            .unaddressed
            .iter()
            .map(|u| Delivery::unaddressed(&u.n_ps, &u.told)),
    );
    let cas_dir = a.out.join("cas");
    if !a.dry_run && !cas.files.is_empty() {
        match cas.write(&cas_dir) {
            Ok(written) if !a.quiet => {
                say!(
                    "vigie: {} fichier(s) CAS pour les organismes dans {}",
                    written.len(),
                    cas_dir.display()
                );
            }
            Ok(_) => {}
            Err(e) => return fail(EXIT_CANNOT_RUN, format!("{} : {e}", cas_dir.display())),
        }
    }
    let list = a.out.join("letters.jsonl");
    let written = std::fs::create_dir_all(&a.out).and_then(|()| {
        vigie::report::write_atomically(&list, |w| {
            for d in &deliveries {
                serde_json::to_writer(&mut *w, d)?;
                w.write_all(b"\n")?;
            }
            Ok(())
        })
    });
    if let Err(e) = written {
        return fail(EXIT_CANNOT_RUN, format!("{} : {e}", list.display()));
    }
    let failed = deliveries
        .iter()
        .filter(|d| d.status == Status::Failed)
        .count()
        + letters.failed.len();
    if !a.quiet {
        summary(&deliveries, &letters.failed, &list, a.dry_run);
    }
    if failed > 0 {
        ExitCode::from(EXIT_CANNOT_RUN)
    } else {
        ExitCode::SUCCESS
    }
}

/// Letters by channel and status, then every failure and every PS without an address.
fn summary(
    deliveries: &[Delivery],
    failed: &[(String, String)],
    list: &std::path::Path,
    dry: bool,
) {
    let mut counts: BTreeMap<(String, String), usize> = BTreeMap::new();
    for d in deliveries {
        let channel = match d.channel {
            Some(Channel::Email) => "e-mail",
            Some(Channel::Postal) => "courrier postal",
            None => "sans adresse",
        };
        let status = serde_json::to_value(d.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *counts.entry((channel.to_string(), status)).or_default() += 1;
    }
    for ((channel, status), n) in &counts {
        say!("vigie: {n} lettre(s) {channel} : {status}");
    }
    for d in deliveries.iter().filter(|d| d.status == Status::Failed) {
        say!(
            "vigie: échec pour {} : {}",
            d.recipient,
            d.error.as_deref().unwrap_or("?")
        );
    }
    for (who, why) in failed {
        say!("vigie: lettre impossible pour {who} : {why}");
    }
    for d in deliveries
        .iter()
        .filter(|d| d.status == Status::Unaddressed)
    {
        say!(
            "vigie: PS {} absent de l'annuaire : {} résultat(s) sans lettre",
            d.recipient,
            d.outcomes.len()
        );
    }
    if dry {
        say!("vigie: essai (--dry-run) : rien n'a été envoyé ni inscrit au registre");
    }
    say!("vigie: liste de cette exécution : {}", list.display());
}
