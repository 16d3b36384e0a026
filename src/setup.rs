//! The facade: grammars and rule sets loaded together, ready to analyse inputs and run cases.

use std::path::Path;
use std::sync::Arc;

use crate::cases::{self, CaseResult};
use crate::diag::Faults;
use crate::drive::{self, Analysis, Input, Options};
use crate::model::{GrammarSet, Node, Unit};
use crate::rules::bindings::Bindings;
use crate::rules::eval::Evaluator;
use crate::rules::manifest::{self, RuleSet};
use crate::rules::participation::{self, Settled};
use crate::send::letters::{self, Letters};
use crate::send::{self, cas::CasOutputs};
use crate::store::{Agent, Reconciled, Store, StoreError};

/// The code whose outcome, decided as if no document ever came, marks an invoice as awaiting
/// its document until it is decided on the day (anomalies.md: before the wait is over the
/// invoice is awaiting its PJ, shown by the store, not an anomaly).
const AWAITED_CODE: &str = "PJ-MANQ";

/// A day far enough for every wait to be over.
const HORIZON_DAYS: u64 = 100 * 366;

/// The analysis date of `opts` (today when not given).
fn as_of(opts: &Options) -> chrono::NaiveDate {
    opts.as_of
        .unwrap_or_else(|| chrono::Local::now().date_naive())
}

/// Grammars and rule sets, loaded and checked.
pub struct Setup {
    /// The grammars, their joins and the report's subject order.
    pub grammars: GrammarSet,
    /// The rule sets, in folder order.
    pub sets: Vec<Arc<RuleSet>>,
    bindings: Arc<Bindings>,
    /// Every rule runs in Rhai's interpreter alone, never in compiled form.
    interpreted: bool,
}

impl Setup {
    /// Loads the grammars of `grammars` and the rule sets of `rules` (a rule-set folder, or a
    /// folder of them). Any fault of any file refuses the whole setup; every fault is given.
    pub fn load(grammars: &Path, rules: &Path) -> Result<Setup, Faults> {
        let grammars = crate::grammar::load(grammars)?;
        let bindings = Arc::new(Bindings::new(&grammars));
        let sets = manifest::load_all(rules, &grammars, &bindings)?;
        Ok(Setup {
            grammars,
            sets,
            bindings,
            interpreted: false,
        })
    }

    /// This setup running every rule in Rhai's interpreter alone, the reference, for its
    /// analyses and cases (the agreement tests; `--interpreted`).
    pub fn interpreted(mut self) -> Setup {
        self.interpreted = true;
        self
    }

    /// Loads the grammars of `dir` alone (documentation, recognition).
    pub fn grammars(dir: &Path) -> Result<GrammarSet, Faults> {
        crate::grammar::load(dir)
    }

    /// Analyses `inputs` with every rule set.
    pub fn analyze(&self, inputs: Vec<Input>, opts: &Options) -> Analysis {
        self.analyze_with(&self.sets, inputs, opts)
    }

    /// Reads `inputs` (recognition, decoding, assembly) and hands every unit to `each` as it
    /// is read, joining nothing and evaluating no rule (benchmarks, tools that evaluate units
    /// themselves). The analysis holds the input errors.
    pub fn read(
        &self,
        inputs: Vec<Input>,
        opts: &Options,
        each: &mut dyn FnMut(&Unit),
    ) -> Analysis {
        drive::read(inputs, &self.grammars, opts, each)
    }

    /// An evaluator of `sets` at `as_of`: the rules of a unit, outcomes out. One per thread.
    pub fn evaluator(&self, sets: &[Arc<RuleSet>], as_of: chrono::NaiveDate) -> Evaluator {
        Evaluator::new(&self.grammars, &self.bindings, sets, as_of)
    }

    /// Analyses `inputs` with the rule sets given (a subset, another version).
    pub fn analyze_with(
        &self,
        sets: &[Arc<RuleSet>],
        inputs: Vec<Input>,
        opts: &Options,
    ) -> Analysis {
        if self.interpreted && !opts.interpreted {
            let opts = Options {
                interpreted: true,
                ..opts.clone()
            };
            return drive::run(inputs, &self.grammars, &self.bindings, sets, &opts);
        }
        drive::run(inputs, &self.grammars, &self.bindings, sets, opts)
    }

    /// Analyses `inputs` and builds the CAS files (participations, returns to the organisms)
    /// from what the rule sets found and their participation scripts decided.
    pub fn cas(&self, inputs: Vec<Input>, opts: &Options) -> (Analysis, CasOutputs) {
        let opts = Options {
            keep_held: true,
            ..opts.clone()
        };
        let analysis = self.analyze(inputs, &opts);
        let all = self.settle(&analysis, &opts);
        let outputs = send::cas::outputs(&analysis, &all.paid, all.unpaid);
        (analysis, outputs)
    }

    /// Analyses `inputs` and writes what they call for: the letters to each PS about its Flux
    /// tiers outcomes (addressed from the directory of PS among the inputs) and to each
    /// adherent doctor about the year's participation — outcomes `told_before` says were told
    /// left out —, and the CAS files for the organisms.
    pub fn letters(
        &self,
        inputs: Vec<Input>,
        opts: &Options,
        agent: &str,
        told_before: &dyn Fn(&str) -> bool,
    ) -> (Analysis, Letters, CasOutputs) {
        let opts = Options {
            keep_held: true,
            keep: vec!["annuaire".to_string()],
            ..opts.clone()
        };
        let analysis = self.analyze(inputs, &opts);
        let settled = self.settle(&analysis, &opts);
        let ctx = letters::Context {
            agent,
            date: as_of(&opts),
            sets: &self.sets,
            told_before,
        };
        let mut letters = letters::letters(&analysis, &settled.paid, &ctx);
        letters.failed.extend(
            settled
                .unpaid
                .iter()
                .map(|u| (u.subject.to_string(), u.message.clone())),
        );
        let cas = send::cas::outputs(&analysis, &settled.paid, settled.unpaid);
        (analysis, letters, cas)
    }

    /// The e-mail letters `outcomes` (a case's, say) would give each PS, addressed to no one:
    /// a preview of the letter templates.
    pub fn preview_letters(
        &self,
        outcomes: &[crate::model::Outcome],
        date: chrono::NaiveDate,
    ) -> Vec<Result<letters::Letter, String>> {
        let ctx = letters::Context {
            agent: "(agent)",
            date,
            sets: &self.sets,
            told_before: &|_| false,
        };
        letters::preview(outcomes, &ctx)
    }

    /// Reconciles what `store` holds on `opts.as_of`: the files received by then, in the
    /// order they came, analysed as `analyze` would analyse them — so that a PJ received
    /// weeks after its invoice satisfies it — and what that decided kept in the store with
    /// the rule set versions, appeared, resolved or changed against the previous reconcile.
    /// The invoices still awaiting a document are those the awaited rule would flag if none
    /// came.
    pub fn reconcile(
        &self,
        store: &mut Store,
        agent: &Agent,
        opts: &Options,
    ) -> Result<(Analysis, Reconciled), StoreError> {
        let as_of = as_of(opts);
        let inputs = store.inputs(as_of)?;
        let again: Vec<Input> = inputs
            .iter()
            .filter_map(|i| match i {
                Input::File(o) => Some(Input::File(o.clone())),
                Input::Records(_) => None,
            })
            .collect();
        let analysis = self.analyze(
            inputs,
            &Options {
                as_of: Some(as_of),
                ..opts.clone()
            },
        );
        let awaited = self.awaited(again, as_of, opts, &analysis);
        let versions: Vec<String> = self.sets.iter().map(|s| s.id.to_string()).collect();
        let changes = store.record_reconcile(
            agent,
            as_of,
            &versions.join(", "),
            &analysis.outcomes,
            &awaited,
        )?;
        Ok((analysis, changes))
    }

    /// The outcomes of the awaited rule decided at the horizon that `on_day` does not have:
    /// the invoices whose wait is still running.
    fn awaited(
        &self,
        inputs: Vec<Input>,
        as_of: chrono::NaiveDate,
        opts: &Options,
        on_day: &Analysis,
    ) -> Vec<crate::model::Outcome> {
        let has_rule = self
            .sets
            .iter()
            .any(|s| s.rules.iter().any(|r| &*r.code == AWAITED_CODE));
        let Some(horizon) = as_of.checked_add_days(chrono::Days::new(HORIZON_DAYS)) else {
            return Vec::new();
        };
        if !has_rule {
            return Vec::new();
        }
        let later = self.analyze(
            inputs,
            &Options {
                as_of: Some(horizon),
                only: Some(AWAITED_CODE.to_string()),
                ..opts.clone()
            },
        );
        let decided: std::collections::HashSet<(String, Option<u32>)> = on_day
            .outcomes
            .iter()
            .filter(|o| &*o.code == AWAITED_CODE)
            .map(|o| {
                (
                    o.subject.to_string(),
                    o.source.as_ref().and_then(|s| s.line),
                )
            })
            .collect();
        later
            .outcomes
            .into_iter()
            .filter(|o| &*o.code == AWAITED_CODE)
            .filter(|o| {
                !decided.contains(&(
                    o.subject.to_string(),
                    o.source.as_ref().and_then(|s| s.line),
                ))
            })
            .collect()
    }

    /// Runs every rule set's participation over an analysis kept with `keep_held`.
    fn settle(&self, analysis: &Analysis, opts: &Options) -> Settled {
        let as_of = as_of(opts);
        let facts: Vec<Arc<Node>> = analysis.held.iter().map(|u| Arc::clone(&u.node)).collect();
        let mut all = Settled::default();
        for set in &self.sets {
            let settled = participation::settle(
                &self.bindings,
                &self.grammars,
                set,
                &facts,
                &analysis.outcomes,
                as_of,
            );
            if let Some(s) = settled {
                all.paid.extend(s.paid);
                all.unpaid.extend(s.unpaid);
            }
        }
        all
    }

    /// Runs the cases of one case file of `set`.
    pub fn run_cases(&self, set: &Arc<RuleSet>, file: &Path) -> Result<Vec<CaseResult>, Faults> {
        cases::run_file(&self.grammars, &self.bindings, set, file, self.interpreted)
    }

    /// Runs every case file of `set`, with the coverage check (a case where each rule fires,
    /// one where it does not).
    pub fn run_all_cases(&self, set: &Arc<RuleSet>) -> Result<Vec<CaseResult>, Faults> {
        cases::run_set(&self.grammars, &self.bindings, set, self.interpreted)
    }
}
