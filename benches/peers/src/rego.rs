//! regorus (Rego, Microsoft's interpreter): the 12 rules as one Rego policy, evaluated once per
//! lot with the lot as `input` (its invoices and their lines inside) and the parameters as
//! `data.params`; each rule is a partial set rule adding `[code, invoice]` or
//! `[code, invoice, line]` to `fired`. Absent values are `null`; dates are ISO strings
//! (`AAAA-MM-JJ`), ordered as strings.
//!
//! vigie's helpers are given as regorus extensions (Rust functions callable from the policy):
//! `nir_well_formed`, `nir_key`, `luhn`, `add_months` (clamped to the month's end: Rego's
//! `time.add_date` is not), `add_days` and `working_days_after`. Rounding is Rego's `round`.

use std::ops::Range;

use chrono::NaiveDate;
use regorus::{Engine, Value};
use vigie::helpers::{add_days, add_months, luhn, nir_key, nir_well_formed, working_days_after};

use crate::bench::Contender;
use crate::facts::{Facts, Invoice, Line, Lot};
use crate::rules::{Firing, Params, Rule};

/// The policy: the 12 rules in Rego.
pub const POLICY: &str = r#"package vigie

# The 12 invoice rules of rules/flux-tiers, one partial set rule each. n_facture is 9 digits:
# it is 0 when only zeros are written (`to_number` refuses leading zeros).

params := data.params

nir_ok(f) if {
	f.nir != null
	nir_well_formed(f.nir)
}

fired contains ["FAC-ZERO", i] if {
	some i, f in input.factures
	trim_left(f.n_facture, "0") == ""
}

fired contains ["ID-NIRFMT", i] if {
	some i, f in input.factures
	not nir_ok(f)
}

fired contains ["ID-NIRKEY", i] if {
	some i, f in input.factures
	nir_ok(f)
	f.cle_nir != nir_key(f.nir)
}

ecart(f) if f.fin.nb_lignes != count(f.lignes)
ecart(f) if f.fin.total != sum([l.montant | some l in f.lignes])
ecart(f) if f.fin.total_amo != sum([l.montant_amo | some l in f.lignes])
ecart(f) if f.fin.total_amc != sum([l.montant_amc | some l in f.lignes])
ecart(f) if f.fin.part_assure != (f.fin.total - f.fin.total_amo) - f.fin.total_amc

fired contains ["FAC-TOT", i] if {
	some i, f in input.factures
	ecart(f)
}

lig_mnt(l) if l.quantite == 0
lig_mnt(l) if l.montant != round(((l.quantite * l.coefficient) * l.prix_unitaire) / 100)

fired contains ["LIG-MNT", i, j] if {
	some i, f in input.factures
	some j, l in f.lignes
	lig_mnt(l)
}

fired contains ["DAT-FUTUR", i, j] if {
	input.date_lot != null
	some i, f in input.factures
	some j, l in f.lignes
	l.date_soins != null
	l.date_soins > input.date_lot
}

fired contains ["DAT-NAISS", i, j] if {
	some i, f in input.factures
	f.date_naissance != null
	some j, l in f.lignes
	l.date_soins != null
	l.date_soins < f.date_naissance
}

manque(f) if f.prescripteur == null
manque(f) if {
	f.prescripteur != null
	not luhn(f.prescripteur)
}
manque(f) if f.date_prescription == null

fired contains ["PRESC-ABS", i] if {
	substring(input.n_ps, 2, 1) in {"2", "3", "6", "7"}
	some i, f in input.factures
	manque(f)
}

dates_soins(f) := [l.date_soins | some l in f.lignes; l.date_soins != null]

fired contains ["PRESC-POST", i] if {
	some i, f in input.factures
	f.date_prescription != null
	dates := dates_soins(f)
	count(dates) > 0
	f.date_prescription > min(dates)
}

fired contains ["ORD-PERIM", i, j] if {
	some i, f in input.factures
	f.date_prescription != null
	some j, l in f.lignes
	l.liste in {"1", "2"}
	l.delivrance == "P"
	l.date_soins != null
	l.date_soins > add_months(f.date_prescription, params.validite_ordonnance_mois)
}

fired contains ["ORD-STUP", i, j] if {
	some i, f in input.factures
	f.date_prescription != null
	some j, l in f.lignes
	l.liste == "S"
	l.date_soins != null
	l.date_soins > add_days(f.date_prescription, params.delai_stupefiant_jours)
}

delai(f) := params.delai_tp_jours_ouvres if f.tiers_payant
else := params.delai_jours_ouvres

fired contains ["FSE-TARD", i] if {
	input.date_lot != null
	some i, f in input.factures
	dates := dates_soins(f)
	count(dates) > 0
	working_days_after(max(dates), input.date_lot) > delai(f)
}
"#;

/// The rule the engine evaluates.
const FIRED: &str = "data.vigie.fired";

/// The rules in Rego.
pub struct Rego<'a> {
    facts: &'a Facts,
    params: Params,
}

impl<'a> Rego<'a> {
    /// Rego over `facts` with the rule set's `params`.
    pub fn new(facts: &'a Facts, params: Params) -> Self {
        Rego { facts, params }
    }

    /// An engine with the policy, the parameters and the helpers.
    fn engine(&self) -> Engine {
        let mut engine = Engine::new();
        engine
            .add_policy("vigie.rego".into(), POLICY.into())
            .unwrap_or_else(|e| panic!("the Rego policy does not parse: {e}"));
        let p = &self.params;
        let params = serde_json::json!({ "params": {
            "validite_ordonnance_mois": p.validite_ordonnance_mois,
            "delai_stupefiant_jours": p.delai_stupefiant_jours,
            "delai_tp_jours_ouvres": p.delai_tp_jours_ouvres,
            "delai_jours_ouvres": p.delai_jours_ouvres,
        }});
        engine
            .add_data(Value::from(params))
            .expect("the parameters are an object");
        add_helpers(&mut engine);
        engine
    }
}

/// Registers vigie's helpers as extensions. A helper that has no answer (a date out of range)
/// gives `undefined`: the rule body fails, as the script would stop.
fn add_helpers(engine: &mut Engine) {
    let mut add = |name: &str, nargs: u8, f: fn(&[Value]) -> Option<Value>| {
        engine
            .add_extension(
                name.into(),
                nargs,
                Box::new(move |args: Vec<Value>| Ok(f(&args).unwrap_or(Value::Undefined))),
            )
            .unwrap_or_else(|e| panic!("extension {name}: {e}"));
    };
    add("nir_well_formed", 1, |a| {
        Some(Value::from(nir_well_formed(a[0].as_string().ok()?)))
    });
    add("nir_key", 1, |a| {
        nir_key(a[0].as_string().ok()?).map(Value::from)
    });
    add("luhn", 1, |a| {
        Some(Value::from(luhn(a[0].as_string().ok()?)))
    });
    add("add_months", 2, |a| {
        add_months(date_arg(&a[0])?, a[1].as_i64().ok()?).map(iso)
    });
    add("add_days", 2, |a| {
        add_days(date_arg(&a[0])?, a[1].as_i64().ok()?).map(iso)
    });
    add("working_days_after", 2, |a| {
        working_days_after(date_arg(&a[0])?, date_arg(&a[1])?).map(Value::from)
    });
}

fn date_arg(v: &Value) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(v.as_string().ok()?, "%Y-%m-%d").ok()
}

fn iso(d: NaiveDate) -> Value {
    Value::from(d.format("%Y-%m-%d").to_string())
}

/// A thread's engine, its lots as Rego input, and each lot's `fired` set.
pub struct State {
    engine: Engine,
    inputs: Vec<(u32, Value)>,
    results: Vec<(u32, Value)>,
}

impl Contender for Rego<'_> {
    type State = State;

    fn prepare(&self, lots: Range<usize>) -> State {
        let inputs = lots
            .map(|li| (li as u32, Value::from(lot(&self.facts.lots[li]))))
            .collect();
        State {
            engine: self.engine(),
            inputs,
            results: Vec::new(),
        }
    }

    fn run(&self, state: &mut State) -> usize {
        state.results.clear();
        let mut n = 0;
        for (li, input) in &state.inputs {
            state.engine.set_input(input.clone());
            let fired = state
                .engine
                .eval_rule(FIRED.into())
                .unwrap_or_else(|e| panic!("Rego evaluation failed on lot {li}: {e}"));
            n += fired.as_set().map_or(0, |s| s.len());
            state.results.push((*li, fired));
        }
        n
    }

    fn firings(&self, state: &State) -> Result<Vec<Firing>, String> {
        let mut all = Vec::new();
        for (li, fired) in &state.results {
            let Ok(set) = fired.as_set() else {
                continue;
            };
            for item in set.iter() {
                let parts = item.as_array().map_err(|e| e.to_string())?;
                let code = parts[0].as_string().map_err(|e| e.to_string())?;
                let index = |k: usize| -> Result<Option<u32>, String> {
                    parts
                        .get(k)
                        .map(|v| v.as_u64().map(|n| n as u32).map_err(|e| e.to_string()))
                        .transpose()
                };
                all.push(Firing {
                    lot: *li,
                    invoice: index(1)?.ok_or("a firing without its invoice")?,
                    line: index(2)?,
                    rule: Rule::from_code(code).ok_or_else(|| format!("unknown code {code}"))?,
                });
            }
        }
        Ok(all)
    }
}

/// A lot as Rego input.
fn lot(lot: &Lot) -> serde_json::Value {
    serde_json::json!({
        "n_ps": lot.n_ps,
        "date_lot": lot.date_lot.map(|d| d.to_string()),
        "factures": lot.invoices.iter().map(invoice).collect::<Vec<_>>(),
    })
}

fn invoice(inv: &Invoice) -> serde_json::Value {
    let fin = &inv.fin;
    serde_json::json!({
        "n_facture": inv.n_facture,
        "nir": inv.nir,
        "cle_nir": inv.cle_nir,
        "date_naissance": inv.date_naissance.map(|d| d.to_string()),
        "tiers_payant": inv.tiers_payant,
        "prescripteur": inv.prescripteur,
        "date_prescription": inv.date_prescription.map(|d| d.to_string()),
        "fin": {
            "nb_lignes": fin.nb_lignes,
            "total": fin.total,
            "total_amo": fin.total_amo,
            "total_amc": fin.total_amc,
            "part_assure": fin.part_assure,
        },
        "lignes": inv.lines.iter().map(line).collect::<Vec<_>>(),
    })
}

fn line(l: &Line) -> serde_json::Value {
    serde_json::json!({
        "date_soins": l.date_soins.map(|d| d.to_string()),
        "liste": l.liste,
        "delivrance": l.delivrance,
        "quantite": l.quantite,
        "coefficient": l.coefficient,
        "prix_unitaire": l.prix_unitaire,
        "montant": l.montant,
        "montant_amo": l.montant_amo,
        "montant_amc": l.montant_amc,
    })
}
