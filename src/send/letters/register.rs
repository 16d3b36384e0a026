//! The register of what was told: a letter is recorded once the server accepted it or the disk
//! holds it, so that a second run sends only what is new and a crash in the middle of a mailing
//! loses nothing and sends nothing twice. The store keeps it (with the agent who ran each
//! mailing); this trait is what delivery needs of it.

use super::Letter;

/// Where delivered letters are recorded.
pub trait Register {
    /// Whether the outcome of register key `key` was already told.
    fn has(&self, key: &str) -> bool;

    /// Records that `letter` was delivered on `date` by `agent` (`file`: its message id or
    /// file), durably before returning.
    fn record(
        &mut self,
        letter: &Letter,
        file: &str,
        date: &str,
        agent: &str,
    ) -> Result<(), String>;
}
