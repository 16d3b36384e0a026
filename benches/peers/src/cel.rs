//! CEL (the `cel` crate, formerly cel-interpreter): each rule one CEL program, evaluated on each
//! invoice (7 rules) and each line (5 rules). The facts are converted once into CEL's own
//! values (`Box<dyn Val>`: maps, lists, strings, ints; absent values `null`; dates ISO strings
//! `AAAA-MM-JJ`, ordered as strings) and handed to each evaluation by reference, through a
//! variable resolver: `lot`, `facture` (its `lignes` and `fin` inside), `params`, and `ligne` for
//! line rules. The standard library with the `lists` and `strings` extensions (`sort`,
//! `reverse`, `charAt`).
//!
//! vigie's helpers are registered as CEL functions: `nir_well_formed`, `nir_key`, `luhn`,
//! `add_months`, `add_days`, `working_days_after`, `round_div`; and `sum` of a list of ints,
//! which CEL does not have.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::Arc;

use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::objects::Map;
use cel::{Context, Env, ExecutionError, Value};
use chrono::NaiveDate;
use vigie::helpers::{
    add_days, add_months, luhn, nir_key, nir_well_formed, round_div, working_days_after,
};

use crate::bench::Contender;
use crate::facts::{Facts, Invoice, Line, Lot};
use crate::rules::{Firing, Params, Rule};

/// The 12 rules in CEL, by rule.
pub fn source(rule: Rule) -> &'static str {
    match rule {
        Rule::FacZero => "int(facture.n_facture) == 0",
        Rule::IdNirfmt => "facture.nir == null || !nir_well_formed(facture.nir)",
        Rule::IdNirkey => {
            "facture.nir != null && nir_well_formed(facture.nir) \
             && facture.cle_nir != nir_key(facture.nir)"
        }
        Rule::FacTot => {
            "facture.fin.nb_lignes != size(facture.lignes) \
             || facture.fin.total != sum(facture.lignes.map(l, l.montant)) \
             || facture.fin.total_amo != sum(facture.lignes.map(l, l.montant_amo)) \
             || facture.fin.total_amc != sum(facture.lignes.map(l, l.montant_amc)) \
             || facture.fin.part_assure != facture.fin.total - facture.fin.total_amo - facture.fin.total_amc"
        }
        Rule::PrescAbs => {
            "lot.n_ps.charAt(2) in ['2', '3', '6', '7'] \
             && (facture.prescripteur == null || !luhn(facture.prescripteur) \
                 || facture.date_prescription == null)"
        }
        Rule::PrescPost => {
            "facture.date_prescription != null \
             && facture.lignes.exists(l, l.date_soins != null && facture.date_prescription > l.date_soins)"
        }
        Rule::FseTard => {
            "lot.date_lot != null && facture.lignes.exists(l, l.date_soins != null) \
             && working_days_after( \
                  facture.lignes.filter(l, l.date_soins != null).map(l, l.date_soins).sort().reverse()[0], \
                  lot.date_lot) \
                > (facture.tiers_payant ? params.delai_tp_jours_ouvres : params.delai_jours_ouvres)"
        }
        Rule::LigMnt => {
            "ligne.quantite == 0 \
             || ligne.montant != round_div(ligne.quantite * ligne.coefficient * ligne.prix_unitaire, 100)"
        }
        Rule::DatFutur => {
            "ligne.date_soins != null && lot.date_lot != null && ligne.date_soins > lot.date_lot"
        }
        Rule::DatNaiss => {
            "ligne.date_soins != null && facture.date_naissance != null \
             && ligne.date_soins < facture.date_naissance"
        }
        Rule::OrdPerim => {
            "ligne.liste in ['1', '2'] && ligne.delivrance == 'P' \
             && facture.date_prescription != null && ligne.date_soins != null \
             && ligne.date_soins > add_months(facture.date_prescription, params.validite_ordonnance_mois)"
        }
        Rule::OrdStup => {
            "ligne.liste == 'S' && facture.date_prescription != null && ligne.date_soins != null \
             && ligne.date_soins > add_days(facture.date_prescription, params.delai_stupefiant_jours)"
        }
    }
}

/// The rules in CEL.
pub struct Cel<'a> {
    facts: &'a Facts,
    params: Params,
}

impl<'a> Cel<'a> {
    /// CEL over `facts` with the rule set's `params`.
    pub fn new(facts: &'a Facts, params: Params) -> Self {
        Cel { facts, params }
    }
}

/// One invoice in CEL values, with its lines and the index of its lot's values.
struct Fact {
    lot: u32,
    invoice: u32,
    lot_values: usize,
    facture: Box<dyn Val>,
    lines: Vec<Box<dyn Val>>,
}

/// A thread's environment, programs, converted facts and what fired.
pub struct State {
    env: Arc<Env>,
    on_invoice: Vec<(Rule, cel::Program)>,
    on_line: Vec<(Rule, cel::Program)>,
    params: Box<dyn Val>,
    lots: Vec<Box<dyn Val>>,
    facts: Vec<Fact>,
    fired: Vec<Firing>,
    errors: usize,
}

/// The variables of one evaluation, borrowed from the converted facts.
struct Vars<'a> {
    lot: &'a dyn Val,
    facture: &'a dyn Val,
    ligne: Option<&'a dyn Val>,
    params: &'a dyn Val,
}

impl VariableResolver for Vars<'_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        let v = match variable {
            "facture" => self.facture,
            "ligne" => self.ligne?,
            "lot" => self.lot,
            "params" => self.params,
            _ => return None,
        };
        Some(CowVal::Borrowed(v))
    }
}

impl Contender for Cel<'_> {
    type State = State;

    fn prepare(&self, lots: Range<usize>) -> State {
        let mut env = Env::stdlib();
        env.add_extension(cel::extensions::lists)
            .and_then(|_| env.add_extension(cel::extensions::strings))
            .expect("CEL's lists and strings extensions load");
        let env = Arc::new(env);
        let compile = |rules: &[Rule]| -> Vec<(Rule, cel::Program)> {
            rules
                .iter()
                .map(|&r| {
                    let p = env
                        .compile(source(r))
                        .unwrap_or_else(|e| panic!("{r} does not compile in CEL: {e}"));
                    (r, p)
                })
                .collect()
        };
        let p = &self.params;
        let params = val(map(vec![
            (
                "validite_ordonnance_mois",
                p.validite_ordonnance_mois.into(),
            ),
            ("delai_stupefiant_jours", p.delai_stupefiant_jours.into()),
            ("delai_tp_jours_ouvres", p.delai_tp_jours_ouvres.into()),
            ("delai_jours_ouvres", p.delai_jours_ouvres.into()),
        ]));
        let mut lot_values = Vec::new();
        let mut facts = Vec::new();
        for li in lots {
            let lot = &self.facts.lots[li];
            lot_values.push(val(lot_value(lot)));
            for (ii, inv) in lot.invoices.iter().enumerate() {
                facts.push(Fact {
                    lot: li as u32,
                    invoice: ii as u32,
                    lot_values: lot_values.len() - 1,
                    facture: val(invoice(inv)),
                    lines: inv.lines.iter().map(|l| val(line(l))).collect(),
                });
            }
        }
        State {
            on_invoice: compile(&Rule::ON_INVOICE),
            on_line: compile(&Rule::ON_LINE),
            env,
            params,
            lots: lot_values,
            facts,
            fired: Vec::new(),
            errors: 0,
        }
    }

    fn run(&self, state: &mut State) -> usize {
        let mut root = Context::with_env(Arc::clone(&state.env));
        add_helpers(&mut root);
        state.fired.clear();
        state.errors = 0;
        for fact in &state.facts {
            let mut vars = Vars {
                lot: state.lots[fact.lot_values].as_ref(),
                facture: fact.facture.as_ref(),
                ligne: None,
                params: state.params.as_ref(),
            };
            let mut eval = |vars: &Vars, rules: &[(Rule, cel::Program)], line: Option<u32>| {
                let mut scope = root.new_inner_scope();
                scope.set_variable_resolver(vars);
                for (rule, program) in rules {
                    match program.execute(&scope) {
                        Ok(Value::Bool(true)) => state.fired.push(Firing {
                            lot: fact.lot,
                            invoice: fact.invoice,
                            line,
                            rule: *rule,
                        }),
                        Ok(_) => {}
                        Err(_) => state.errors += 1,
                    }
                }
            };
            eval(&vars, &state.on_invoice, None);
            for (ri, l) in fact.lines.iter().enumerate() {
                vars.ligne = Some(l.as_ref());
                eval(&vars, &state.on_line, Some(ri as u32));
            }
        }
        state.fired.len()
    }

    fn firings(&self, state: &State) -> Result<Vec<Firing>, String> {
        if state.errors > 0 {
            return Err(format!("{} evaluation error(s)", state.errors));
        }
        Ok(state.fired.clone())
    }
}

/// Registers vigie's helpers (and `sum`) on `ctx`. A helper with no answer (a date out of
/// range, an overflow) is an error: the rule does not fire, as the script would stop.
fn add_helpers(ctx: &mut Context) {
    let none = |f: &str| ExecutionError::function_error(f, "no value");
    let added = [
        ctx.add_function("nir_well_formed", |s: Arc<String>| nir_well_formed(&s)),
        ctx.add_function("luhn", |s: Arc<String>| luhn(&s)),
        ctx.add_function("nir_key", |s: Arc<String>| -> Value {
            nir_key(&s).map_or(Value::Null, Value::Int)
        }),
        ctx.add_function(
            "add_months",
            move |d: Arc<String>, n: i64| -> Result<Value, ExecutionError> {
                date(&d)
                    .and_then(|d| add_months(d, n))
                    .map(iso)
                    .ok_or_else(|| none("add_months"))
            },
        ),
        ctx.add_function(
            "add_days",
            move |d: Arc<String>, n: i64| -> Result<Value, ExecutionError> {
                date(&d)
                    .and_then(|d| add_days(d, n))
                    .map(iso)
                    .ok_or_else(|| none("add_days"))
            },
        ),
        ctx.add_function(
            "working_days_after",
            move |a: Arc<String>, b: Arc<String>| -> Result<Value, ExecutionError> {
                date(&a)
                    .zip(date(&b))
                    .and_then(|(a, b)| working_days_after(a, b))
                    .map(Value::Int)
                    .ok_or_else(|| none("working_days_after"))
            },
        ),
        ctx.add_function(
            "round_div",
            move |n: i64, d: i64| -> Result<Value, ExecutionError> {
                round_div(n, d)
                    .map(Value::Int)
                    .map_err(|_| none("round_div"))
            },
        ),
        ctx.add_function(
            "sum",
            move |list: Arc<Vec<Value>>| -> Result<Value, ExecutionError> {
                list.iter()
                    .try_fold(0i64, |total, v| match v {
                        Value::Int(i) => total.checked_add(*i),
                        _ => None,
                    })
                    .map(Value::Int)
                    .ok_or_else(|| none("sum"))
            },
        ),
    ];
    for r in added {
        r.expect("a helper's name is free in CEL's standard library");
    }
}

fn date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").ok()
}

fn iso(d: NaiveDate) -> Value {
    Value::String(Arc::new(d.format("%Y-%m-%d").to_string()))
}

/// A CEL value in the engine's evaluation form.
fn val(v: Value) -> Box<dyn Val> {
    v.try_into().expect("a map of plain values converts")
}

fn map(fields: Vec<(&str, Value)>) -> Value {
    Value::Map(Map::from(fields.into_iter().collect::<HashMap<_, _>>()))
}

fn text(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

fn day(d: Option<NaiveDate>) -> Value {
    d.map_or(Value::Null, iso)
}

fn lot_value(lot: &Lot) -> Value {
    map(vec![
        ("n_ps", Value::from(lot.n_ps.as_str())),
        ("date_lot", day(lot.date_lot)),
    ])
}

fn invoice(inv: &Invoice) -> Value {
    let fin = &inv.fin;
    map(vec![
        ("n_facture", Value::from(inv.n_facture.as_str())),
        ("nir", text(inv.nir.as_deref())),
        ("cle_nir", inv.cle_nir.into()),
        ("date_naissance", day(inv.date_naissance)),
        ("tiers_payant", inv.tiers_payant.into()),
        ("prescripteur", text(inv.prescripteur.as_deref())),
        ("date_prescription", day(inv.date_prescription)),
        (
            "fin",
            map(vec![
                ("nb_lignes", fin.nb_lignes.into()),
                ("total", fin.total.into()),
                ("total_amo", fin.total_amo.into()),
                ("total_amc", fin.total_amc.into()),
                ("part_assure", fin.part_assure.into()),
            ]),
        ),
        (
            "lignes",
            Value::List(Arc::new(inv.lines.iter().map(line).collect())),
        ),
    ])
}

fn line(l: &Line) -> Value {
    map(vec![
        ("date_soins", day(l.date_soins)),
        ("liste", text(l.liste.as_deref())),
        ("delivrance", text(l.delivrance.as_deref())),
        ("quantite", l.quantite.into()),
        ("coefficient", l.coefficient.into()),
        ("prix_unitaire", l.prix_unitaire.into()),
        ("montant", l.montant.into()),
        ("montant_amo", l.montant_amo.into()),
        ("montant_amc", l.montant_amc.into()),
    ])
}
