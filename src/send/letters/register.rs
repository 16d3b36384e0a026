//! The register of what was sent (one JSON object per line, appended and synced after each
//! letter the server accepted or the disk holds): a second run sends only what is new, and a
//! crash in the middle of a mailing loses nothing and sends nothing twice. The store issue moves
//! it into the database.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::{Channel, Letter, Recipient};

/// One line of the register: an outcome told to someone.
#[derive(Debug, Serialize)]
struct Entry<'a> {
    key: String,
    code: &'a str,
    subject: &'a std::collections::BTreeMap<String, String>,
    kind: Recipient,
    recipient: &'a str,
    channel: Channel,
    date: String,
    agent: &'a str,
    file: &'a str,
}

/// The register file and the keys it holds.
#[derive(Debug)]
pub struct Register {
    path: PathBuf,
    sent: HashSet<String>,
}

impl Register {
    /// Opens the register at `path` (none yet: empty). A line that cannot be read is an error:
    /// a damaged register must not make vigie send again what it recorded.
    pub fn open(path: &Path) -> Result<Register, String> {
        let mut sent = HashSet::new();
        if let Ok(f) = File::open(path) {
            for (i, line) in BufReader::new(f).lines().enumerate() {
                let line = line.map_err(|e| format!("{} : illisible : {e}", path.display()))?;
                if line.trim().is_empty() {
                    continue;
                }
                let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| {
                    format!(
                        "{}:{} : ligne illisible du registre ({e})",
                        path.display(),
                        i + 1
                    )
                })?;
                match v.get("key").and_then(|k| k.as_str()) {
                    Some(k) => {
                        sent.insert(k.to_string());
                    }
                    None => {
                        return Err(format!(
                            "{}:{} : ligne du registre sans « key »",
                            path.display(),
                            i + 1
                        ))
                    }
                }
            }
        }
        Ok(Register {
            path: path.to_path_buf(),
            sent,
        })
    }

    /// Whether `key` was already told.
    pub fn has(&self, key: &str) -> bool {
        self.sent.contains(key)
    }

    /// Records that `letter` was delivered (`file`: its message id or file), synced before
    /// returning.
    pub fn record(
        &mut self,
        letter: &Letter,
        file: &str,
        date: &str,
        agent: &str,
    ) -> std::io::Result<()> {
        let mut out = Vec::new();
        for t in &letter.told {
            let entry = Entry {
                key: t.key(),
                code: &t.code,
                subject: &t.subject,
                kind: letter.kind,
                recipient: &letter.recipient,
                channel: letter.channel,
                date: date.to_string(),
                agent,
                file,
            };
            serde_json::to_writer(&mut out, &entry)?;
            out.push(b'\n');
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)?;
        f.write_all(&out)?;
        f.sync_all()?;
        for t in &letter.told {
            self.sent.insert(t.key());
        }
        Ok(())
    }
}
