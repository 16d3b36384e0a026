//! The letters' sent-register in the store: one row per outcome told, with the agent who ran
//! the mailing, written with its audit entry in one transaction as soon as a letter is
//! delivered.

use std::collections::HashSet;

use chrono::NaiveDate;

use super::db::Val;
use super::{audit, month_of, Store, StoreError};
use crate::send::letters::register::Register;
use crate::send::letters::{Channel, Letter, Recipient};

/// The store as the register of a mailing: the keys told before, loaded once.
pub struct Sent<'a> {
    store: &'a mut Store,
    told: HashSet<String>,
}

impl Store {
    /// The register of a mailing, with every key told so far.
    pub fn sent_register(&mut self) -> Result<Sent<'_>, StoreError> {
        let rows = self.db.query("SELECT key FROM sent", &[])?;
        let told = rows
            .into_iter()
            .filter_map(|r| r.into_iter().next().and_then(|v| v.opt_text()))
            .collect();
        Ok(Sent { store: self, told })
    }
}

impl Sent<'_> {
    /// Whether the outcome of key `key` was told before this mailing or during it.
    pub fn told(&self, key: &str) -> bool {
        self.told.contains(key)
    }
}

fn recipient_kind(r: Recipient) -> &'static str {
    match r {
        Recipient::Ps => "ps",
        Recipient::Medecin => "medecin",
    }
}

fn channel(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Postal => "postal",
    }
}

impl Register for Sent<'_> {
    fn has(&self, key: &str) -> bool {
        self.told(key)
    }

    fn record(
        &mut self,
        letter: &Letter,
        file: &str,
        date: &str,
        agent: &str,
    ) -> Result<(), String> {
        let month = NaiveDate::parse_from_str(date, "%Y-%m-%d")
            .map(month_of)
            .map_err(|_| format!("date d'envoi « {date} » illisible"))?;
        // A letter may tell one outcome twice (two lines of one invoice…): one row per key.
        let mut keys = HashSet::new();
        let rows: Vec<Val> = letter
            .told
            .iter()
            .filter(|t| !self.told.contains(&t.key()) && keys.insert(t.key()))
            .flat_map(|t| {
                let pairs: Vec<(&String, &String)> = t.subject.iter().collect();
                vec![
                    t.key().into(),
                    month.as_str().into(),
                    t.code.as_str().into(),
                    serde_json::to_string(&pairs).unwrap_or_default().into(),
                    Some(letter.recipient.clone()).into(),
                    recipient_kind(letter.kind).into(),
                    letter.recipient.as_str().into(),
                    channel(letter.channel).into(),
                    date.into(),
                    agent.into(),
                    file.into(),
                ]
            })
            .collect();
        let cols = [
            "key",
            "month",
            "code",
            "subject",
            "ps",
            "recipient_kind",
            "recipient",
            "channel",
            "day",
            "agent",
            "file",
        ];
        let subject = format!(
            "{}={}",
            match letter.kind {
                Recipient::Ps => "n_ps",
                Recipient::Medecin => "rpps",
            },
            letter.recipient
        );
        let details = format!(
            "lettre {} : {} résultat(s) dit(s) ({file})",
            channel(letter.channel),
            letter.told.len()
        );
        self.store
            .db
            .transaction(|db| {
                db.insert_many("sent", &cols, &rows)?;
                audit::append(db, agent, "letters", &[subject], &details)
            })
            .map_err(|e| e.to_string())?;
        self.told.extend(letter.told.iter().map(|t| t.key()));
        Ok(())
    }
}
