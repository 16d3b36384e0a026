//! Delivering letters: e-mail as RFC 5322 messages (UTF-8 subject and text, the letter as a
//! printable PDF attached) into an outbox of
//! `.eml` files or to an SMTP server, retried a bounded number of times; postal letters written
//! to disk. A letter is recorded in the register only once the server accepted it or the disk
//! holds it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use lettre::message::{header::ContentType, Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{FileTransport, Message, SmtpTransport, Transport};
use serde::Serialize;

use super::pdf::{self, Fonts, Page};
use super::register::Register;
use super::{Channel, Letter, Recipient, Told};

/// Where e-mails go.
pub enum Mailer {
    /// `.eml` files in a folder: the default, nothing to install.
    Outbox(PathBuf),
    /// An SMTP server.
    Smtp(Box<SmtpTransport>),
}

/// Attempts at an SMTP server before a letter is reported failed, and the first wait.
const ATTEMPTS: u32 = 3;
const FIRST_WAIT: Duration = Duration::from_millis(500);

impl Mailer {
    /// An SMTP mailer from a URL (`smtp://host:port`, `smtp://user:pass@host:587?tls=required`,
    /// `smtps://host`), read from the environment or a file, never from the command line.
    pub fn smtp(url: &str) -> Result<Mailer, String> {
        let t = SmtpTransport::from_url(url)
            .map_err(|e| format!("adresse du serveur SMTP refusée : {e}"))?
            .timeout(Some(Duration::from_secs(20)))
            .build();
        Ok(Mailer::Smtp(Box::new(t)))
    }
}

/// What happened to a letter (`letters.jsonl`'s `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The SMTP server accepted it.
    Sent,
    /// Written into the outbox or, for the post, to disk.
    Written,
    /// Not delivered (why is in `error`).
    Failed,
    /// Everything it would tell was already told.
    AlreadySent,
    /// `--dry-run`: what would be sent.
    DryRun,
    /// A PS with outcomes and no directory entry.
    Unaddressed,
}

/// One line of `letters.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    /// The n° PS or RPPS.
    pub recipient: String,
    /// `ps` or `medecin`.
    pub kind: Recipient,
    /// `email` or `postal` (absent for an unaddressed PS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    /// What happened.
    pub status: Status,
    /// What the letter tells of.
    pub outcomes: Vec<Told>,
    /// The message id or file written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Why it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// A doctor's participation: status, amount, blocking codes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub participation: Option<std::collections::BTreeMap<String, String>>,
}

impl Delivery {
    /// A letter with a status, nothing delivered yet.
    pub fn of(letter: &Letter, status: Status) -> Delivery {
        Delivery {
            recipient: letter.recipient.clone(),
            kind: letter.kind,
            channel: Some(letter.channel),
            status,
            outcomes: letter.told.clone(),
            file: None,
            error: None,
            participation: letter.participation.clone(),
        }
    }

    /// A PS with outcomes but no directory entry.
    pub fn unaddressed(n_ps: &str, told: &[Told]) -> Delivery {
        Delivery {
            recipient: n_ps.to_string(),
            kind: Recipient::Ps,
            channel: None,
            status: Status::Unaddressed,
            outcomes: told.to_vec(),
            file: None,
            error: None,
            participation: None,
        }
    }
}

/// Everything a mailing needs besides the letters.
pub struct Run<'a> {
    /// Where e-mails go.
    pub mailer: &'a Mailer,
    /// The sender of e-mails.
    pub from: &'a Mailbox,
    /// Where postal letters are written.
    pub postal_dir: &'a Path,
    /// Lists only, sends nothing.
    pub dry_run: bool,
    /// The mailing's date (`AAAA-MM-JJ`) and agent, for the register.
    pub date: &'a str,
    /// The agent who runs it.
    pub agent: &'a str,
}

/// Delivers each letter that tells something new, and records it.
///
/// Once the SMTP server stayed unreachable through every attempt, the e-mails left fail at once
/// with the same reason (a run does not wait minutes per letter on a server that is down).
pub fn deliver(letters: &[Letter], run: &Run, register: &mut dyn Register) -> Vec<Delivery> {
    let mut out = Vec::new();
    let mut down: Option<String> = None;
    for letter in letters {
        if run.dry_run {
            out.push(Delivery::of(letter, Status::DryRun));
            continue;
        }
        let result = match (letter.channel, &down) {
            (Channel::Email, Some(why)) => Err(why.clone()),
            (Channel::Email, None) => {
                let r = email(letter, run);
                if let Err(Unreachable(why)) = &r {
                    down = Some(why.clone());
                }
                r.map_err(String::from)
            }
            (Channel::Postal, _) => postal(letter, run.postal_dir),
        };
        let mut d = Delivery::of(letter, Status::Failed);
        match result {
            Ok((status, file)) => match register.record(letter, &file, run.date, run.agent) {
                Ok(()) => {
                    d.status = status;
                    d.file = Some(file);
                }
                Err(e) => d.error = Some(format!("envoyée mais non inscrite au registre : {e}")),
            },
            Err(e) => d.error = Some(e),
        }
        out.push(d);
    }
    out
}

/// The RFC 5322 message of an e-mail letter.
/// The text in the body, the same letter as a printable PDF attached.
pub fn message(letter: &Letter, from: &Mailbox) -> Result<Message, String> {
    let address = letter
        .email
        .as_deref()
        .ok_or("pas d'adresse électronique")?
        .parse()
        .map_err(|e| format!("adresse électronique refusée : {e}"))?;
    let to = Mailbox::new(Some(letter.name.clone()), address);
    let pdf_type =
        ContentType::parse("application/pdf").map_err(|e| format!("type de pièce jointe : {e}"))?;
    let attached = Attachment::new(file_name(letter)).body(pdf_bytes(letter)?, pdf_type);
    Message::builder()
        .from(from.clone())
        .to(to)
        .subject(letter.subject_line.clone())
        .multipart(
            MultiPart::mixed()
                .singlepart(SinglePart::plain(letter.email_text()))
                .singlepart(attached),
        )
        .map_err(|e| format!("message impossible à composer : {e}"))
}

/// `ps-132202888.pdf`, `medecin-10005173140.pdf`.
fn file_name(letter: &Letter) -> String {
    let kind = match letter.kind {
        Recipient::Ps => "ps",
        Recipient::Medecin => "medecin",
    };
    format!("{kind}-{}.pdf", letter.recipient)
}

/// The letter as a PDF.
fn pdf_bytes(letter: &Letter) -> Result<Vec<u8>, String> {
    let fonts = Fonts::find(&letter.letters_dir)?;
    let page = Page {
        sender: &letter.sender,
        address: &letter.address,
        place_date: &letter.place_date,
        subject: &letter.subject_line,
        body: &letter.body,
        table: letter.table.as_ref(),
    };
    pdf::render(&page, &fonts)
}

/// Why an e-mail was not delivered; `Unreachable` when the server never answered.
enum Undelivered {
    Refused(String),
    Unreachable(String),
}
use Undelivered::{Refused, Unreachable};

impl From<Undelivered> for String {
    fn from(u: Undelivered) -> String {
        match u {
            Refused(s) | Unreachable(s) => s,
        }
    }
}

fn email(letter: &Letter, run: &Run) -> Result<(Status, String), Undelivered> {
    let msg = message(letter, run.from).map_err(Refused)?;
    match run.mailer {
        Mailer::Outbox(dir) => {
            std::fs::create_dir_all(dir)
                .map_err(|e| Refused(format!("{} : {e}", dir.display())))?;
            let id = FileTransport::new(dir)
                .send(&msg)
                .map_err(|e| Refused(format!("boîte d'envoi {} : {e}", dir.display())))?;
            Ok((
                Status::Written,
                dir.join(format!("{id}.eml")).display().to_string(),
            ))
        }
        Mailer::Smtp(t) => {
            let mut wait = FIRST_WAIT;
            let mut last = String::new();
            for attempt in 1..=ATTEMPTS {
                match t.send(&msg) {
                    Ok(response) => {
                        let id = response.message().collect::<Vec<_>>().join(" ");
                        return Ok((Status::Sent, id));
                    }
                    Err(e) if e.is_permanent() => {
                        return Err(Refused(format!("refusé par le serveur SMTP : {e}")));
                    }
                    Err(e) => last = e.to_string(),
                }
                if attempt < ATTEMPTS {
                    std::thread::sleep(wait);
                    wait *= 2;
                }
            }
            Err(Unreachable(format!(
                "serveur SMTP injoignable après {ATTEMPTS} essais : {last}"
            )))
        }
    }
}

/// Writes a postal letter as a printable PDF.
fn postal(letter: &Letter, dir: &Path) -> Result<(Status, String), String> {
    let bytes = pdf_bytes(letter)?;
    std::fs::create_dir_all(dir).map_err(|e| format!("{} : {e}", dir.display()))?;
    let path = dir.join(file_name(letter));
    crate::report::write_atomically(&path, |w| w.write_all(&bytes))
        .map_err(|e| format!("{} : {e}", path.display()))?;
    Ok((Status::Written, path.display().to_string()))
}
