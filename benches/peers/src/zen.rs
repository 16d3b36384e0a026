//! GoRules zen-expression: each rule one ZEN expression, compiled once per thread, evaluated on
//! each invoice (7 rules) and each line (5 rules). The context is the engine's own `Variable`
//! tree: `lot`, `facture` (its `lignes` and `fin` inside), `params`, and for line rules a local
//! `ligne`. Dates are ZEN date values (`d()`'s type), compared and moved with its date methods
//! (`add(n, 'M')` clamps to the month's end, as vigie's `add_months` does).
//!
//! ZEN has no custom functions: what the scripts get from vigie's helpers that ZEN lacks is
//! computed in Rust while converting the facts, as fields of `facture`: `nir_valide`
//! (`nir_well_formed`), `nir_cle` (`nir_key`), `prescripteur_luhn` (`luhn`), and `jours_ouvres`
//! (`working_days_after` from the latest care date to the lot's date, `null` when either is
//! missing). ZEN's `Variable` is reference-counted without atomics (not `Send`): each thread
//! converts its own lots.

use std::ops::Range;

use chrono::NaiveDate;
use rust_decimal::Decimal;
use vigie::helpers::{luhn, nir_key, nir_well_formed, working_days_after};
use zen_expression::expression::Standard;
use zen_expression::variable::{Variable, VariableMap};
use zen_expression::vm::VM;
use zen_expression::{DateValue, Expression, Isolate, Scope};

use crate::bench::Contender;
use crate::facts::{Facts, Invoice, Line, Lot};
use crate::rules::{Firing, Params, Rule};

/// The 12 rules in ZEN, by rule.
pub fn source(rule: Rule) -> &'static str {
    match rule {
        Rule::FacZero => "number(facture.n_facture) == 0",
        Rule::IdNirfmt => "facture.nir == null or not facture.nir_valide",
        Rule::IdNirkey => {
            "facture.nir != null and facture.nir_valide and facture.cle_nir != facture.nir_cle"
        }
        Rule::FacTot => {
            "facture.fin.nb_lignes != len(facture.lignes) \
             or facture.fin.total != sum(map(facture.lignes, #.montant)) \
             or facture.fin.total_amo != sum(map(facture.lignes, #.montant_amo)) \
             or facture.fin.total_amc != sum(map(facture.lignes, #.montant_amc)) \
             or facture.fin.part_assure != facture.fin.total - facture.fin.total_amo - facture.fin.total_amc"
        }
        Rule::PrescAbs => {
            "lot.n_ps[2:2] in ['2', '3', '6', '7'] \
             and (facture.prescripteur == null or not facture.prescripteur_luhn \
                  or facture.date_prescription == null)"
        }
        Rule::PrescPost => {
            "facture.date_prescription != null and some(facture.lignes, #.date_soins != null) \
             and facture.date_prescription > min(map(filter(facture.lignes, #.date_soins != null), #.date_soins))"
        }
        Rule::FseTard => {
            "facture.jours_ouvres != null and facture.jours_ouvres > \
             (facture.tiers_payant ? params.delai_tp_jours_ouvres : params.delai_jours_ouvres)"
        }
        Rule::LigMnt => {
            "ligne.quantite == 0 \
             or ligne.montant != round(ligne.quantite * ligne.coefficient * ligne.prix_unitaire / 100)"
        }
        Rule::DatFutur => {
            "ligne.date_soins != null and lot.date_lot != null and ligne.date_soins > lot.date_lot"
        }
        Rule::DatNaiss => {
            "ligne.date_soins != null and facture.date_naissance != null \
             and ligne.date_soins < facture.date_naissance"
        }
        Rule::OrdPerim => {
            "ligne.liste in ['1', '2'] and ligne.delivrance == 'P' \
             and facture.date_prescription != null and ligne.date_soins != null \
             and ligne.date_soins > facture.date_prescription.add(params.validite_ordonnance_mois, 'M')"
        }
        Rule::OrdStup => {
            "ligne.liste == 'S' and facture.date_prescription != null and ligne.date_soins != null \
             and ligne.date_soins > facture.date_prescription.add(params.delai_stupefiant_jours, 'd')"
        }
    }
}

/// The rules in ZEN.
pub struct Zen<'a> {
    facts: &'a Facts,
    params: Params,
}

impl<'a> Zen<'a> {
    /// ZEN over `facts` with the rule set's `params`.
    pub fn new(facts: &'a Facts, params: Params) -> Self {
        Zen { facts, params }
    }
}

/// One invoice as ZEN's scope, and its lines.
struct Fact {
    lot: u32,
    invoice: u32,
    scope: Scope,
    lines: Vec<Variable>,
}

/// A thread's compiled rules, VM, facts and what fired.
pub struct State {
    on_invoice: Vec<(Rule, Expression<Standard>)>,
    on_line: Vec<(Rule, Expression<Standard>)>,
    vm: VM,
    facts: Vec<Fact>,
    fired: Vec<Firing>,
    errors: usize,
}

impl Contender for Zen<'_> {
    type State = State;

    fn prepare(&self, lots: Range<usize>) -> State {
        let compile = |rules: &[Rule]| -> Vec<(Rule, Expression<Standard>)> {
            rules
                .iter()
                .map(|&r| {
                    let e = Isolate::new()
                        .compile_standard(source(r))
                        .unwrap_or_else(|e| panic!("{r} does not compile in ZEN: {e}"));
                    (r, e)
                })
                .collect()
        };
        let params = object(&[
            (
                "validite_ordonnance_mois",
                int(self.params.validite_ordonnance_mois),
            ),
            (
                "delai_stupefiant_jours",
                int(self.params.delai_stupefiant_jours),
            ),
            (
                "delai_tp_jours_ouvres",
                int(self.params.delai_tp_jours_ouvres),
            ),
            ("delai_jours_ouvres", int(self.params.delai_jours_ouvres)),
        ]);
        let mut facts = Vec::new();
        for li in lots {
            let lot = &self.facts.lots[li];
            let lot_var = object(&[
                ("n_ps", Variable::String(lot.n_ps.as_str().into())),
                ("date_lot", date(lot.date_lot)),
            ]);
            for (ii, inv) in lot.invoices.iter().enumerate() {
                let lines: Vec<Variable> = inv.lines.iter().map(line).collect();
                let facture = invoice(lot, inv, &lines);
                let context = object(&[
                    ("lot", lot_var.clone()),
                    ("facture", facture),
                    ("params", params.clone()),
                ]);
                facts.push(Fact {
                    lot: li as u32,
                    invoice: ii as u32,
                    scope: Scope::new(context),
                    lines,
                });
            }
        }
        State {
            on_invoice: compile(&Rule::ON_INVOICE),
            on_line: compile(&Rule::ON_LINE),
            vm: VM::new(),
            facts,
            fired: Vec::new(),
            errors: 0,
        }
    }

    fn run(&self, state: &mut State) -> usize {
        let State {
            on_invoice,
            on_line,
            vm,
            facts,
            fired,
            errors,
        } = state;
        fired.clear();
        *errors = 0;
        let ligne = zen_expression::variable::Symbol::borrowed("ligne");
        for fact in facts.iter_mut() {
            let (lot, invoice) = (fact.lot, fact.invoice);
            let mut fire = |rule, line, result: Result<Variable, _>| match result {
                Ok(Variable::Bool(true)) => fired.push(Firing {
                    lot,
                    invoice,
                    line,
                    rule,
                }),
                Ok(_) => {}
                Err(_) => *errors += 1,
            };
            for (rule, e) in on_invoice.iter() {
                fire(*rule, None, e.evaluate_with_scope(&fact.scope, vm));
            }
            for (ri, l) in fact.lines.iter().enumerate() {
                fact.scope.set_local(ligne.clone(), l.clone());
                for (rule, e) in on_line.iter() {
                    fire(
                        *rule,
                        Some(ri as u32),
                        e.evaluate_with_scope(&fact.scope, vm),
                    );
                }
            }
            fact.scope.clear_locals();
        }
        fired.len()
    }

    fn firings(&self, state: &State) -> Result<Vec<Firing>, String> {
        if state.errors > 0 {
            return Err(format!("{} evaluation error(s)", state.errors));
        }
        Ok(state.fired.clone())
    }
}

/// An invoice as ZEN's `facture`, with the values of the helpers ZEN lacks.
fn invoice(lot: &Lot, inv: &Invoice, lines: &[Variable]) -> Variable {
    let nir_valide = inv.nir.as_deref().is_some_and(nir_well_formed);
    let nir_cle = inv.nir.as_deref().and_then(nir_key);
    let derniers = inv.lines.iter().filter_map(|l| l.date_soins).max();
    let jours = derniers
        .zip(lot.date_lot)
        .and_then(|(from, to)| working_days_after(from, to));
    let fin = &inv.fin;
    object(&[
        ("n_facture", text(Some(&inv.n_facture))),
        ("nir", text(inv.nir.as_deref())),
        ("cle_nir", int(inv.cle_nir)),
        ("date_naissance", date(inv.date_naissance)),
        ("tiers_payant", Variable::Bool(inv.tiers_payant)),
        ("prescripteur", text(inv.prescripteur.as_deref())),
        ("date_prescription", date(inv.date_prescription)),
        (
            "fin",
            object(&[
                ("nb_lignes", int(fin.nb_lignes)),
                ("total", int(fin.total)),
                ("total_amo", int(fin.total_amo)),
                ("total_amc", int(fin.total_amc)),
                ("part_assure", int(fin.part_assure)),
            ]),
        ),
        ("lignes", Variable::from_array(lines.to_vec())),
        ("nir_valide", Variable::Bool(nir_valide)),
        ("nir_cle", nir_cle.map_or(Variable::Null, int)),
        (
            "prescripteur_luhn",
            inv.prescripteur
                .as_deref()
                .map_or(Variable::Null, |p| Variable::Bool(luhn(p))),
        ),
        ("jours_ouvres", jours.map_or(Variable::Null, int)),
    ])
}

/// A line as ZEN's `ligne`.
fn line(l: &Line) -> Variable {
    object(&[
        ("date_soins", date(l.date_soins)),
        ("liste", text(l.liste.as_deref())),
        ("delivrance", text(l.delivrance.as_deref())),
        ("quantite", int(l.quantite)),
        ("coefficient", int(l.coefficient)),
        ("prix_unitaire", int(l.prix_unitaire)),
        ("montant", int(l.montant)),
        ("montant_amo", int(l.montant_amo)),
        ("montant_amc", int(l.montant_amc)),
    ])
}

fn object(fields: &[(&'static str, Variable)]) -> Variable {
    let mut map = VariableMap::with_capacity(fields.len());
    for (k, v) in fields {
        map.insert(zen_expression::variable::Symbol::borrowed(k), v.clone());
    }
    Variable::from_object(map)
}

fn int(i: i64) -> Variable {
    Variable::Number(Decimal::from(i))
}

fn text(s: Option<&str>) -> Variable {
    s.map_or(Variable::Null, |s| Variable::String(s.into()))
}

/// A date as ZEN's date value (midnight in ZEN's time zone: the machine's).
fn date(d: Option<NaiveDate>) -> Variable {
    d.and_then(|d| DateValue::from_text(&d.format("%Y-%m-%d").to_string()))
        .unwrap_or(Variable::Null)
}
