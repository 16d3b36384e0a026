//! vigie — a rules engine for French health-insurance back-office flows.
//!
//! Data flows one way (see ARCHITECTURE.md): files → grammars (nom decoder) → records →
//! facts (assembly, joins) → rule sets (Rhai) → outcomes → reports. The modules are private;
//! this page is the whole public surface:
//!
//! - [`Setup`] loads the grammars and rule sets business staff edit (every fault of every file
//!   at once, located), then analyses inputs or runs rule cases;
//! - [`Input`], [`Options`], [`Analysis`]: what an analysis takes and gives;
//! - [`model`]: the data that flows (outcomes, subjects, compiled grammars);
//! - [`Fault`], [`FaultKind`], [`Faults`]: what a refused file says, where;
//! - [`report`]: the report writers; [`cases`]: rule cases and their snapshots.
//!
//! The library knows nothing of terminals: progress leaves through [`Options::progress`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Library code never aborts on input: no unwrap, expect, panic or unchecked indexing. An
// exception is scoped to its item and says why it cannot fail. Tests may use them freely.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing,
        clippy::unreachable,
        clippy::todo,
        clippy::unimplemented
    )
)]

pub mod cases;
mod diag;
mod drive;
mod facts;
mod grammar;
pub mod model;
pub mod report;
mod rules;
mod send;
mod setup;
mod store;
mod walk;

pub use diag::{Fault, FaultKind, Faults};
pub use drive::{files, Analysis, Input, Options, Spill};
pub use grammar::doc::pages as format_pages;
pub use rules::contain::panic_is_contained;
pub use rules::eval::{Evaluator, Failure};
pub use rules::helpers::{luhn, nir_key};

/// The pure functions rule scripts call (identifier keys, calendar, money), for tools and
/// benchmarks that need the same arithmetic as the rules.
pub mod helpers {
    pub use crate::rules::helpers::calendar::{add_days, add_months, working_days_after};
    pub use crate::rules::helpers::identifiers::{luhn, nir_key, nir_well_formed};
    pub use crate::rules::helpers::money::round_div;
}
pub use rules::manifest::{Rule, RuleSet};
pub use rules::participation::{Paid, Unpaid};
pub use send::cas::{CasFile, CasOutputs};
pub use send::letters::deliver::Run as MailRun;
pub use send::letters::register::Register;
pub use send::letters::{
    deliver, mask_nirs, Channel, Delivery, Letter, Letters, Mailer, Recipient, Status, Told,
};
pub use setup::Setup;
pub use store::{
    Agent, AuditEntry, AuditFilter, Backend, Changes, Ingested, Purged, Received, Reconciled, Role,
    StatusQuery, Store, StoreError, Verified,
};
pub use walk::{expand_paths, Walk};
