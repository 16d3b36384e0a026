//! Letters (anomalies.md "Letters to professionals", "CAS — participation"): one per PS with
//! its `rejet` and `signalement` Flux tiers outcomes, addressed from the directory of PS; one
//! per adherent doctor with the year's participation. Texts come from the rule sets' templates;
//! [`deliver`] e-mails them (an outbox of `.eml` files, or SMTP) or writes them for the post,
//! and records each in the [`register`] so that nothing is sent twice.

pub mod deliver;
pub mod pdf;
pub mod register;

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::NaiveDate;
use serde::Serialize;

use crate::drive::Analysis;
use crate::model::{Kind, Node, Outcome, Severity, Unit};
use crate::rules::helpers::date_fr;
use crate::rules::letters;
use crate::rules::participation::Paid;
use crate::rules::RuleSet;

pub use deliver::{deliver, Delivery, Mailer, Status};

/// Who a letter is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Recipient {
    /// A health professional (by n° PS).
    Ps,
    /// A doctor who signed the CAS (by RPPS).
    Medecin,
}

/// How a letter goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Channel {
    /// E-mail.
    Email,
    /// A printed letter.
    Postal,
}

/// An outcome a letter tells of, as the register and `letters.jsonl` name it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Told {
    /// Its code (`PJ-MANQ`, `PARTICIPATION`).
    pub code: String,
    /// Its subject, as key → value.
    pub subject: BTreeMap<String, String>,
}

impl Letter {
    /// The text of the e-mail: sender, place and date, then the body.
    pub fn email_text(&self) -> String {
        format!(
            "{}\n\n{}\n\n{}",
            self.sender.join("\n"),
            self.place_date,
            self.body
        )
    }
}

impl Told {
    /// The register's key: code and subject (and for a participation what was decided).
    pub fn key(&self) -> String {
        let subject: Vec<String> = self
            .subject
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{} {}", self.code, subject.join(" "))
    }
}

/// One letter, rendered.
#[derive(Debug, Clone)]
pub struct Letter {
    /// Who it is for.
    pub kind: Recipient,
    /// Their n° PS or RPPS.
    pub recipient: String,
    /// Their name as the letter is addressed.
    pub name: String,
    /// Their e-mail address, when the letter goes by e-mail.
    pub email: Option<String>,
    /// E-mail or post.
    pub channel: Channel,
    /// The subject line.
    pub subject_line: String,
    /// The sender's block (`expediteur.j2`), one line each.
    pub sender: Vec<String>,
    /// The recipient's name and address lines.
    pub address: Vec<String>,
    /// "Paris, le 20/11/2026".
    pub place_date: String,
    /// The body (from the salutation to the signature).
    pub body: String,
    /// For a postal letter to a PS: the invoices concerned.
    pub table: Option<pdf::Table>,
    /// The folder of the templates (and of the letter font, if the rule set brings one).
    pub letters_dir: std::path::PathBuf,
    /// What it tells of.
    pub told: Vec<Told>,
    /// For a doctor: the participation's status, amount and blocking codes.
    pub participation: Option<BTreeMap<String, String>>,
}

/// A PS with outcomes but no entry in the directory: no letter, reported.
#[derive(Debug, Clone)]
pub struct Unaddressed {
    /// The n° PS.
    pub n_ps: String,
    /// What a letter would have told.
    pub told: Vec<Told>,
}

/// The letters an analysis calls for.
#[derive(Debug, Default)]
pub struct Letters {
    /// Rendered letters, PS first (by n° PS), then doctors (by RPPS).
    pub letters: Vec<Letter>,
    /// PS missing from the directory.
    pub unaddressed: Vec<Unaddressed>,
    /// Letters a template could not render (`who`, why).
    pub failed: Vec<(String, String)>,
    /// Letters with nothing new to tell (everything is in the register).
    pub already_sent: Vec<Letter>,
}

/// What the letters need besides the analysis.
pub struct Context<'a> {
    /// The agent who runs the mailing, named in every letter.
    pub agent: &'a str,
    /// The mailing's date.
    pub date: NaiveDate,
    /// The rule sets (templates, rule titles, the `lieu` parameter).
    pub sets: &'a [Arc<RuleSet>],
    /// Whether an outcome (by [`Told::key`]) was already told: it is left out of the letters.
    pub told_before: &'a dyn Fn(&str) -> bool,
}

/// The template names a rule set provides for each kind of letter.
const PS_TEMPLATES: (&str, &str) = ("ps.objet.j2", "ps.txt.j2");
const DOCTOR_TEMPLATES: (&str, &str) = ("medecin.objet.j2", "medecin.txt.j2");

/// Builds and renders the letters of `analysis` (run with `keep_held` and the directory kept)
/// and of the participations `paid`.
pub fn letters(analysis: &Analysis, paid: &[Paid], ctx: &Context) -> Letters {
    let mut out = Letters::default();
    let directory = records_by(&analysis.kept, "annuaire", "n_ps");
    for (n_ps, outcomes) in ps_outcomes(&analysis.outcomes) {
        let Some(entry) = directory.get(&n_ps) else {
            let told = outcomes.iter().map(|o| told(o)).collect();
            out.unaddressed.push(Unaddressed { n_ps, told });
            continue;
        };
        // Only what was not told before; a PS with nothing new gets no letter.
        let fresh: Vec<&Outcome> = outcomes
            .iter()
            .copied()
            .filter(|o| !(ctx.told_before)(&told(o).key()))
            .collect();
        let shown = if fresh.is_empty() { &outcomes } else { &fresh };
        match render_ps(&n_ps, Addressee::of(entry), shown, ctx) {
            Ok(letter) if fresh.is_empty() => out.already_sent.push(letter),
            Ok(letter) => out.letters.push(letter),
            Err(e) => out.failed.push((format!("PS {n_ps}"), e)),
        }
    }
    let adherents = records_by(&analysis.held, "cas-adherents", "rpps");
    for p in paid {
        let rpps = p.subject.get("rpps").unwrap_or_default().to_string();
        let Some(adh) = adherents.get(&rpps) else {
            continue;
        };
        match render_doctor(p, adh, ctx) {
            Ok(letter) if letter.told.iter().all(|t| (ctx.told_before)(&t.key())) => {
                out.already_sent.push(letter);
            }
            Ok(letter) => out.letters.push(letter),
            Err(e) => out.failed.push((format!("médecin {rpps}"), e)),
        }
    }
    out
}

/// The outcomes a PS is written about, by n° PS: `rejet` and `signalement` anomalies and
/// guidance (not `info`, not errors) whose subject names a PS.
fn ps_outcomes(outcomes: &[Outcome]) -> BTreeMap<String, Vec<&Outcome>> {
    let mut by: BTreeMap<String, Vec<&Outcome>> = BTreeMap::new();
    for o in outcomes {
        let wanted = matches!(o.kind, Kind::Anomaly | Kind::Guidance)
            && matches!(o.severity, Severity::Rejet | Severity::Signalement);
        if let (true, Some(n_ps)) = (wanted, o.subject.get("n_ps")) {
            by.entry(n_ps.to_string()).or_default().push(o);
        }
    }
    by
}

fn told(o: &Outcome) -> Told {
    Told {
        code: o.code.to_string(),
        subject: o
            .subject
            .0
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    }
}

/// A record's text fields by name (absent fields empty).
fn text(n: &Node, field: &str) -> String {
    n.field(field).display().unwrap_or_default()
}

/// The records of grammar `grammar` among `units` by their `key` field (the first record of a
/// value counts): the directory of PS by n° PS, the adherents of the CAS by RPPS.
fn records_by(units: &[Unit], grammar: &str, key: &str) -> BTreeMap<String, Arc<Node>> {
    let mut by = BTreeMap::new();
    for u in units.iter().filter(|u| u.grammar.name == grammar) {
        for n in std::iter::once(&u.node).chain(u.node.children.iter().flatten()) {
            let value = text(n, key);
            if !value.is_empty() {
                by.entry(value).or_insert_with(|| Arc::clone(n));
            }
        }
    }
    by
}

/// What a letter says of one outcome.
#[derive(Serialize)]
struct Point {
    code: String,
    gravite: String,
    message: String,
    consigne: Option<String>,
}

/// An invoice and what is wrong with it; its date is the earliest its outcomes know (the
/// lot's date for a B2 outcome, else its return's).
#[derive(Serialize)]
struct Invoice {
    n_facture: String,
    n_lot: Option<String>,
    #[serde(serialize_with = "french_date")]
    date: Option<NaiveDate>,
    constats: Vec<Point>,
}

fn french_date<S: serde::Serializer>(d: &Option<NaiveDate>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_str(&date_fr(*d)),
        None => s.serialize_none(),
    }
}

/// Where a PS is written to: its directory entry.
struct Addressee {
    name: String,
    address: Vec<String>,
    email: Option<String>,
    /// Subscribed to Compagnon (e-mail notices).
    compagnon: bool,
}

impl Addressee {
    fn of(entry: &Node) -> Addressee {
        let address = ["adresse1", "adresse2"]
            .iter()
            .map(|f| text(entry, f))
            .chain([format!(
                "{} {}",
                text(entry, "code_postal"),
                text(entry, "ville")
            )])
            .filter(|l| !l.trim().is_empty())
            .collect();
        Addressee {
            name: text(entry, "raison_sociale"),
            address,
            email: Some(text(entry, "email")).filter(|e| !e.is_empty()),
            compagnon: entry.field("compagnon").display().as_deref() == Some("O"),
        }
    }
}

/// The e-mail letters `outcomes` would give each PS, addressed to no one (a preview of the
/// templates for rule authors: `vigie rules test --preview`).
pub fn preview(outcomes: &[Outcome], ctx: &Context) -> Vec<Result<Letter, String>> {
    ps_outcomes(outcomes)
        .into_iter()
        .map(|(n_ps, outcomes)| {
            let nobody = Addressee {
                name: format!("PS {n_ps}"),
                address: vec!["(adresse de l'annuaire)".into()],
                email: Some("ps@exemple.invalid".into()),
                compagnon: true,
            };
            render_ps(&n_ps, nobody, &outcomes, ctx)
        })
        .collect()
}

fn render_ps(
    n_ps: &str,
    to: Addressee,
    outcomes: &[&Outcome],
    ctx: &Context,
) -> Result<Letter, String> {
    let mut invoices: Vec<Invoice> = Vec::new();
    let mut others = Vec::new();
    for o in outcomes {
        let point = Point {
            code: o.code.to_string(),
            gravite: o.severity.as_str().to_string(),
            message: mask_nirs(&o.message),
            consigne: o.text.as_deref().map(mask_nirs),
        };
        let Some(n_facture) = o.subject.get("n_facture") else {
            others.push(point);
            continue;
        };
        let n_lot = o.subject.get("n_lot").map(str::to_string);
        match invoices
            .iter_mut()
            .find(|i| i.n_facture == n_facture && i.n_lot == n_lot)
        {
            Some(i) => {
                i.date = i.date.min(o.date).or(i.date).or(o.date);
                i.constats.push(point);
            }
            None => invoices.push(Invoice {
                n_facture: n_facture.to_string(),
                n_lot,
                date: o.date,
                constats: vec![point],
            }),
        }
    }
    let Addressee {
        name,
        address,
        email,
        compagnon,
    } = to;
    let channel = if compagnon && email.is_some() {
        Channel::Email
    } else {
        Channel::Postal
    };
    let set = set_with(ctx.sets, PS_TEMPLATES.1)?;
    let postal = channel == Channel::Postal;
    let table = postal.then(|| invoice_table(&invoices));
    let values = minijinja::context! {
        ps => minijinja::context! { n_ps, nom => &name, adresse => &address },
        factures => invoices,
        autres => others,
        agent => ctx.agent,
        lieu => lieu(set),
        date => date_fr(ctx.date),
        postal,
    };
    let (subject_line, sender, body) = render(set, PS_TEMPLATES, &values)?;
    Ok(Letter {
        kind: Recipient::Ps,
        recipient: n_ps.to_string(),
        address: std::iter::once(name.clone()).chain(address).collect(),
        name,
        email: email.filter(|_| !postal),
        channel,
        subject_line,
        sender,
        place_date: format!("{}, le {}", lieu(set), date_fr(ctx.date)),
        body,
        table,
        letters_dir: set.dir.join(letters::FOLDER),
        told: outcomes.iter().map(|o| told(o)).collect(),
        participation: None,
    })
}

/// The table of a postal letter to a PS: one row per invoice, its points and what to do.
fn invoice_table(invoices: &[Invoice]) -> pdf::Table {
    let rows = invoices
        .iter()
        .map(|i| {
            let points: Vec<String> = i
                .constats
                .iter()
                .map(|c| match &c.consigne {
                    Some(todo) => format!("{}\nÀ faire : {todo}", c.message),
                    None => c.message.clone(),
                })
                .collect();
            vec![
                i.n_facture.clone(),
                i.n_lot.clone().unwrap_or_default(),
                i.date.map(date_fr).unwrap_or_default(),
                points.join("\n"),
            ]
        })
        .collect();
    pdf::Table {
        title: "Factures concernées".into(),
        header: [
            "Facture",
            "Lot",
            "Date",
            "Points relevés et ce qu'il faut faire",
        ]
        .map(String::from)
        .to_vec(),
        widths: vec![22.0, 12.0, 22.0, 114.0],
        rows,
    }
}

/// What a blocking code means, in words: the title of its rule in the rule set.
fn meaning(set: &RuleSet, code: &str) -> String {
    set.rules
        .iter()
        .find(|r| &*r.code == code)
        .map_or_else(|| code.to_string(), |r| format!("{} ({code})", r.title))
}

fn render_doctor(p: &Paid, adh: &Node, ctx: &Context) -> Result<Letter, String> {
    let set = set_with(ctx.sets, DOCTOR_TEMPLATES.1)?;
    let rpps = p.subject.get("rpps").unwrap_or_default().to_string();
    let annee = p.subject.get("annee").unwrap_or_default().to_string();
    let motifs: Vec<BTreeMap<&str, String>> = p
        .get("motifs")
        .split(',')
        .filter(|c| !c.is_empty())
        .map(|c| BTreeMap::from([("code", c.to_string()), ("libelle", meaning(set, c))]))
        .collect();
    let email = Some(text(adh, "email")).filter(|e| !e.is_empty());
    let address: Vec<String> = [
        text(adh, "adresse1"),
        format!("{} {}", text(adh, "code_postal"), text(adh, "ville")),
    ]
    .into_iter()
    .filter(|l| !l.trim().is_empty())
    .collect();
    let (nom, prenom) = (text(adh, "nom"), text(adh, "prenom"));
    let postal = email.is_none();
    let values = minijinja::context! {
        medecin => minijinja::context! { rpps => &rpps, nom => &nom, prenom => &prenom, adresse => &address },
        annee => &annee,
        statut => p.get("statut"),
        montant => euros_fr(p.get("montant")),
        motifs => motifs,
        agent => ctx.agent,
        lieu => lieu(set),
        date => date_fr(ctx.date),
        postal,
    };
    let (subject_line, sender, body) = render(set, DOCTOR_TEMPLATES, &values)?;
    let decided: BTreeMap<String, String> = ["statut", "montant", "motifs"]
        .iter()
        .map(|k| (k.to_string(), p.get(k).to_string()))
        .collect();
    let mut subject: BTreeMap<String, String> = BTreeMap::new();
    subject.insert("rpps".into(), rpps.clone());
    subject.insert("annee".into(), annee);
    // A new decision (another status or amount) is a new letter.
    subject.insert("statut".into(), p.get("statut").to_string());
    subject.insert("montant".into(), p.get("montant").to_string());
    let name = format!("Dr {prenom} {nom}");
    Ok(Letter {
        kind: Recipient::Medecin,
        recipient: rpps,
        address: std::iter::once(name.clone()).chain(address).collect(),
        name,
        channel: if postal {
            Channel::Postal
        } else {
            Channel::Email
        },
        email,
        subject_line,
        sender,
        place_date: format!("{}, le {}", lieu(set), date_fr(ctx.date)),
        body,
        table: None,
        letters_dir: set.dir.join(letters::FOLDER),
        told: vec![Told {
            code: crate::rules::participation::CODE.to_string(),
            subject,
        }],
        participation: Some(decided),
    })
}

/// The first rule set that has template `name`.
fn set_with<'a>(sets: &'a [Arc<RuleSet>], name: &str) -> Result<&'a RuleSet, String> {
    sets.iter()
        .find(|s| s.letters.iter().any(|t| t.name == name))
        .map(|s| &**s)
        .ok_or_else(|| {
            format!(
                "aucun jeu de règles n'a de modèle {}/{name}",
                letters::FOLDER
            )
        })
}

/// The `lieu` parameter of a set (the town letters are written from).
fn lieu(set: &RuleSet) -> String {
    set.params
        .iter()
        .find(|(k, _)| k == "lieu")
        .map(|(_, v)| v.display())
        .unwrap_or_default()
}

/// The sender's block template of a rule set.
const SENDER_TEMPLATE: &str = "expediteur.j2";

/// Renders the subject line, the sender's block and the body templates of `set`.
fn render(
    set: &RuleSet,
    (subject, body): (&str, &str),
    values: &minijinja::Value,
) -> Result<(String, Vec<String>, String), String> {
    let env = letters::environment(&set.letters);
    let one = |name: &str| -> Result<String, String> {
        env.get_template(name)
            .and_then(|t| t.render(values))
            .map_err(|e| {
                let line = e.line().map(|l| format!(":{l}")).unwrap_or_default();
                format!(
                    "{}/{}/{name}{line} : {}",
                    set.dir.display(),
                    letters::FOLDER,
                    e.detail().unwrap_or(&e.to_string())
                )
            })
    };
    let subject_line = one(subject)?.trim().to_string();
    let sender = one(SENDER_TEMPLATE)?
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    Ok((subject_line, sender, mask_nirs(one(body)?.trim())))
}

/// `1431.44` → `1 431,44 €` (empty stays empty).
fn euros_fr(amount: &str) -> String {
    let Some((units, cents)) = amount.split_once('.') else {
        return amount.to_string();
    };
    let digits: Vec<char> = units.chars().collect();
    let mut grouped = String::new();
    for (i, c) in digits.iter().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            grouped.push('\u{202f}');
        }
        grouped.push(*c);
    }
    format!("{grouped},{cents} €")
}

/// Every NIR-shaped run (13 to 15 digits, `A`/`B` for Corsica) reduced to its last 4
/// characters: a letter never shows more of a NIR, whatever a message holds.
pub fn mask_nirs(text: &str) -> String {
    let is_part = |c: char| c.is_ascii_digit() || c == 'A' || c == 'B';
    // Runs of NIR characters and of anything else, in order.
    let mut runs: Vec<(bool, String)> = Vec::new();
    for c in text.chars() {
        match runs.last_mut() {
            Some((part, run)) if *part == is_part(c) => run.push(c),
            _ => runs.push((is_part(c), c.to_string())),
        }
    }
    let alnum_at = |run: Option<&(bool, String)>, last: bool| {
        run.and_then(|(_, r)| {
            if last {
                r.chars().last()
            } else {
                r.chars().next()
            }
        })
        .is_some_and(|c| c.is_ascii_alphanumeric())
    };
    let mut out = String::with_capacity(text.len());
    for (i, (part, run)) in runs.iter().enumerate() {
        let len = run.chars().count();
        let digits = run.chars().filter(char::is_ascii_digit).count();
        let alone = !alnum_at(i.checked_sub(1).and_then(|p| runs.get(p)), true)
            && !alnum_at(runs.get(i + 1), false);
        if *part && alone && (13..=15).contains(&len) && digits >= 12 {
            out.extend(std::iter::repeat_n('•', len - 4));
            out.extend(run.chars().skip(len - 4));
        } else {
            out.push_str(run);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nir_keeps_its_last_four_characters_only() {
        assert_eq!(mask_nirs("NIR 1660659521413."), "NIR •••••••••1413.");
        assert_eq!(mask_nirs("corse 200072A331507"), "corse •••••••••1507");
        assert_eq!(
            mask_nirs("RPPS 13053040195, facture 000144010, 110650,42 €"),
            "RPPS 13053040195, facture 000144010, 110650,42 €"
        );
    }

    #[test]
    fn amounts_are_written_the_french_way() {
        assert_eq!(euros_fr("1431.44"), "1\u{202f}431,44 €");
        assert_eq!(euros_fr("7.67"), "7,67 €");
        assert_eq!(euros_fr("123456.00"), "123\u{202f}456,00 €");
        assert_eq!(euros_fr(""), "");
    }
}
