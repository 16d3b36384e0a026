//! vigie itself: the 12-rule set loaded as any rule set, evaluated on the units vigie read
//! (its own input form: nothing to convert), one evaluator per thread. What is timed is
//! `Evaluator::evaluate` on each lot, outcomes (with their messages) included.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use chrono::NaiveDate;
use vigie::model::{Kind, Outcome, Unit};
use vigie::{Evaluator, Setup};

use crate::bench::Contender;
use crate::facts::Facts;
use crate::rules::{Firing, Rule};

/// Where a fact is: lot, invoice in the lot, line in the invoice.
type Place = (u32, u32, Option<u32>);

/// vigie's evaluation of the loaded rule set.
pub struct Vigie<'a> {
    setup: &'a Setup,
    units: &'a [Unit],
    facts: &'a Facts,
    as_of: NaiveDate,
    /// The fact at each (file, physical line): lot, invoice, line index.
    at: HashMap<(Arc<str>, u32), Place>,
}

/// An evaluator, the units of its lots, and what it found last.
pub struct State<'a> {
    evaluator: Evaluator,
    units: Vec<&'a Unit>,
    outcomes: Vec<Outcome>,
}

impl<'a> Vigie<'a> {
    /// vigie over `units`, whose facts are `facts`, at `as_of`.
    pub fn new(setup: &'a Setup, units: &'a [Unit], facts: &'a Facts, as_of: NaiveDate) -> Self {
        let mut at = HashMap::new();
        for (li, lot) in facts.lots.iter().enumerate() {
            let file = &facts.files[lot.file as usize];
            for (ii, inv) in lot.invoices.iter().enumerate() {
                at.insert((Arc::clone(file), inv.line), (li as u32, ii as u32, None));
                for (ri, line) in inv.lines.iter().enumerate() {
                    at.insert(
                        (Arc::clone(file), line.line),
                        (li as u32, ii as u32, Some(ri as u32)),
                    );
                }
            }
        }
        Vigie {
            setup,
            units,
            facts,
            as_of,
            at,
        }
    }

    /// The firing an outcome stands for, checked against the facts (its subject must name the
    /// same invoice and line as the fact at its source line).
    fn firing(&self, o: &Outcome) -> Result<Firing, String> {
        let rule = Rule::from_code(&o.code).ok_or_else(|| format!("unknown code {}", o.code))?;
        let source = o
            .source
            .as_ref()
            .ok_or_else(|| format!("{} without a source", o.code))?;
        let line = source
            .line
            .ok_or_else(|| format!("{} without a line", o.code))?;
        let &(lot, invoice, ri) =
            self.at
                .get(&(Arc::clone(&source.file), line))
                .ok_or_else(|| {
                    format!(
                        "{} at {}:{line}: no extracted fact there",
                        o.code, source.file
                    )
                })?;
        let f = Firing {
            lot,
            invoice,
            line: ri,
            rule,
        };
        let inv = &self.facts.lots[lot as usize].invoices[invoice as usize];
        let rank = ri.map(|r| inv.lines[r as usize].rank.to_string());
        let same = o.subject.get("n_facture") == Some(inv.n_facture.as_str())
            && o.subject.get("ligne") == rank.as_deref()
            && (ri.is_some() == Rule::ON_LINE.contains(&rule));
        if !same {
            return Err(format!(
                "{} about {} but the fact at {}:{line} is {}",
                o.code,
                o.subject,
                source.file,
                self.facts.describe(&f)
            ));
        }
        Ok(f)
    }
}

impl<'a> Contender for Vigie<'a> {
    type State = State<'a>;

    fn prepare(&self, lots: Range<usize>) -> State<'a> {
        State {
            evaluator: self.setup.evaluator(&self.setup.sets, self.as_of),
            units: self.facts.lots[lots]
                .iter()
                .map(|l| &self.units[l.unit])
                .collect(),
            outcomes: Vec::new(),
        }
    }

    fn run(&self, state: &mut State<'a>) -> usize {
        state.outcomes.clear();
        for unit in &state.units {
            state.evaluator.evaluate(unit, &mut state.outcomes);
        }
        state.outcomes.len()
    }

    fn firings(&self, state: &State<'a>) -> Result<Vec<Firing>, String> {
        let failures = state.evaluator.failures();
        if let Some(f) = failures.first() {
            return Err(format!(
                "{} rule(s) failed, first {} on {} fact(s): {}",
                failures.len(),
                f.code,
                f.count,
                f.message
            ));
        }
        state
            .outcomes
            .iter()
            .filter(|o| o.kind == Kind::Anomaly)
            .map(|o| self.firing(o))
            .collect()
    }
}
