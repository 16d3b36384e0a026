//! The 12 rules as plain Rust over the typed facts: the floor of the logic. Each function is
//! its script read line by line (`rules/flux-tiers/scripts/*.rhai`), with vigie's own helpers;
//! where a script would stop on an error (an overflow, a date out of range), the rule does not
//! fire, as in vigie.

use std::ops::Range;

use vigie::helpers::{
    add_days, add_months, luhn, nir_key, nir_well_formed, round_div, working_days_after,
};

use crate::bench::Contender;
use crate::facts::{Facts, Invoice, Line, Lot};
use crate::rules::{Firing, Params, Rule};

/// The rules in Rust.
pub struct Native<'a> {
    facts: &'a Facts,
    params: Params,
}

impl<'a> Native<'a> {
    /// The rules over `facts` with the rule set's `params`.
    pub fn new(facts: &'a Facts, params: Params) -> Self {
        Native { facts, params }
    }
}

/// Its lots (the facts themselves: nothing to convert) and what fired.
pub struct State {
    lots: Range<usize>,
    fired: Vec<Firing>,
}

impl Contender for Native<'_> {
    type State = State;

    fn prepare(&self, lots: Range<usize>) -> State {
        State {
            lots,
            fired: Vec::new(),
        }
    }

    fn run(&self, state: &mut State) -> usize {
        state.fired.clear();
        let p = &self.params;
        for li in state.lots.clone() {
            let lot = &self.facts.lots[li];
            for (ii, inv) in lot.invoices.iter().enumerate() {
                let mut fire = |rule, line| {
                    state.fired.push(Firing {
                        lot: li as u32,
                        invoice: ii as u32,
                        line,
                        rule,
                    })
                };
                for rule in Rule::ON_INVOICE {
                    if on_invoice(rule, lot, inv, p) {
                        fire(rule, None);
                    }
                }
                for (ri, line) in inv.lines.iter().enumerate() {
                    for rule in Rule::ON_LINE {
                        if on_line(rule, lot, inv, line, p) {
                            fire(rule, Some(ri as u32));
                        }
                    }
                }
            }
        }
        state.fired.len()
    }

    fn firings(&self, state: &State) -> Result<Vec<Firing>, String> {
        Ok(state.fired.clone())
    }
}

/// Whether invoice rule `rule` fires on `inv`.
fn on_invoice(rule: Rule, lot: &Lot, inv: &Invoice, p: &Params) -> bool {
    match rule {
        Rule::FacZero => inv.n_facture.parse::<i64>() == Ok(0),
        Rule::IdNirfmt => !inv.nir.as_deref().is_some_and(nir_well_formed),
        Rule::IdNirkey => match inv.nir.as_deref() {
            Some(nir) if nir_well_formed(nir) => nir_key(nir) != Some(inv.cle_nir),
            _ => false,
        },
        Rule::FacTot => fac_tot(inv).unwrap_or(false),
        Rule::PrescAbs => {
            matches!(lot.n_ps.chars().nth(2), Some('2' | '3' | '6' | '7'))
                && (!inv.prescripteur.as_deref().is_some_and(luhn)
                    || inv.date_prescription.is_none())
        }
        Rule::PrescPost => {
            let premiers = inv.lines.iter().filter_map(|l| l.date_soins).min();
            matches!((inv.date_prescription, premiers), (Some(dp), Some(s)) if dp > s)
        }
        Rule::FseTard => {
            let derniers = inv.lines.iter().filter_map(|l| l.date_soins).max();
            let (Some(derniers), Some(date_lot)) = (derniers, lot.date_lot) else {
                return false;
            };
            working_days_after(derniers, date_lot)
                .is_some_and(|jours| jours > p.fse_delay(inv.tiers_payant))
        }
        _ => false,
    }
}

/// FAC-TOT: the `5` disagrees with the lines; `None` where the script would stop (overflow).
fn fac_tot(inv: &Invoice) -> Option<bool> {
    let sum = |field: fn(&Line) -> i64| {
        inv.lines
            .iter()
            .try_fold(0i64, |total, l| total.checked_add(field(l)))
    };
    let fin = &inv.fin;
    let montant = sum(|l| l.montant)?;
    let amo = sum(|l| l.montant_amo)?;
    let amc = sum(|l| l.montant_amc)?;
    let part = fin
        .total
        .checked_sub(fin.total_amo)?
        .checked_sub(fin.total_amc)?;
    Some(
        fin.nb_lignes != inv.lines.len() as i64
            || fin.total != montant
            || fin.total_amo != amo
            || fin.total_amc != amc
            || fin.part_assure != part,
    )
}

/// Whether line rule `rule` fires on line `l` of `inv`.
fn on_line(rule: Rule, lot: &Lot, inv: &Invoice, l: &Line, p: &Params) -> bool {
    match rule {
        Rule::LigMnt => {
            let attendu = l
                .quantite
                .checked_mul(l.coefficient)
                .and_then(|x| x.checked_mul(l.prix_unitaire))
                .and_then(|x| round_div(x, 100).ok());
            attendu.is_some_and(|a| l.quantite == 0 || l.montant != a)
        }
        Rule::DatFutur => matches!((l.date_soins, lot.date_lot), (Some(s), Some(d)) if s > d),
        Rule::DatNaiss => {
            matches!((l.date_soins, inv.date_naissance), (Some(s), Some(n)) if s < n)
        }
        Rule::OrdPerim => {
            let first_of_list = matches!(l.liste.as_deref(), Some("1" | "2"))
                && l.delivrance.as_deref() == Some("P");
            let (Some(dp), Some(ds)) = (inv.date_prescription, l.date_soins) else {
                return false;
            };
            first_of_list
                && add_months(dp, p.validite_ordonnance_mois).is_some_and(|limite| ds > limite)
        }
        Rule::OrdStup => {
            let (Some(dp), Some(ds)) = (inv.date_prescription, l.date_soins) else {
                return false;
            };
            l.liste.as_deref() == Some("S")
                && add_days(dp, p.delai_stupefiant_jours).is_some_and(|limite| ds > limite)
        }
        _ => false,
    }
}
