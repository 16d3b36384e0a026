//! The 12 invoice rules compared, their parameters, and what a firing is.

use std::fmt;

/// One of the 12 rules (codes of `rules/flux-tiers/ruleset.yaml`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    FacZero,
    IdNirfmt,
    IdNirkey,
    FacTot,
    LigMnt,
    DatFutur,
    DatNaiss,
    PrescAbs,
    PrescPost,
    OrdPerim,
    OrdStup,
    FseTard,
}

impl Rule {
    /// Every rule, in the catalogue's order.
    pub const ALL: [Rule; 12] = [
        Rule::FacZero,
        Rule::IdNirfmt,
        Rule::IdNirkey,
        Rule::FacTot,
        Rule::LigMnt,
        Rule::DatFutur,
        Rule::DatNaiss,
        Rule::PrescAbs,
        Rule::PrescPost,
        Rule::OrdPerim,
        Rule::OrdStup,
        Rule::FseTard,
    ];

    /// The rules whose scope is the invoice (`facture`).
    pub const ON_INVOICE: [Rule; 7] = [
        Rule::FacZero,
        Rule::IdNirfmt,
        Rule::IdNirkey,
        Rule::FacTot,
        Rule::PrescAbs,
        Rule::PrescPost,
        Rule::FseTard,
    ];

    /// The rules whose scope is the line (`ligne`).
    pub const ON_LINE: [Rule; 5] = [
        Rule::LigMnt,
        Rule::DatFutur,
        Rule::DatNaiss,
        Rule::OrdPerim,
        Rule::OrdStup,
    ];

    /// Its catalogue code.
    pub fn code(self) -> &'static str {
        match self {
            Rule::FacZero => "FAC-ZERO",
            Rule::IdNirfmt => "ID-NIRFMT",
            Rule::IdNirkey => "ID-NIRKEY",
            Rule::FacTot => "FAC-TOT",
            Rule::LigMnt => "LIG-MNT",
            Rule::DatFutur => "DAT-FUTUR",
            Rule::DatNaiss => "DAT-NAISS",
            Rule::PrescAbs => "PRESC-ABS",
            Rule::PrescPost => "PRESC-POST",
            Rule::OrdPerim => "ORD-PERIM",
            Rule::OrdStup => "ORD-STUP",
            Rule::FseTard => "FSE-TARD",
        }
    }

    /// The rule of catalogue code `code`.
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Its bit in a [`Mask`].
    pub fn bit(self) -> Mask {
        1 << self as u16
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A set of rules, one bit each.
pub type Mask = u16;

/// The rule set's parameters the 12 rules read (`params:` of the manifest).
#[derive(Debug, Clone, Copy)]
pub struct Params {
    /// ORD-PERIM: months a prescription stays valid for a first delivery.
    pub validite_ordonnance_mois: i64,
    /// ORD-STUP: days a narcotic prescription may wait.
    pub delai_stupefiant_jours: i64,
    /// FSE-TARD: working days allowed with tiers payant.
    pub delai_tp_jours_ouvres: i64,
    /// FSE-TARD: working days allowed with direct payment.
    pub delai_jours_ouvres: i64,
}

impl Params {
    /// The parameters named in `params` (name, value as the manifest writes it).
    pub fn from_named(params: &[(String, String)]) -> Result<Params, String> {
        let get = |name: &str| -> Result<i64, String> {
            params
                .iter()
                .find(|(k, _)| k == name)
                .ok_or_else(|| format!("parameter {name} missing from the rule set"))?
                .1
                .parse()
                .map_err(|_| format!("parameter {name} is not an integer"))
        };
        Ok(Params {
            validite_ordonnance_mois: get("validite_ordonnance_mois")?,
            delai_stupefiant_jours: get("delai_stupefiant_jours")?,
            delai_tp_jours_ouvres: get("delai_tp_jours_ouvres")?,
            delai_jours_ouvres: get("delai_jours_ouvres")?,
        })
    }

    /// FSE-TARD's delay for an invoice paid by tiers payant or not.
    pub fn fse_delay(&self, tiers_payant: bool) -> i64 {
        if tiers_payant {
            self.delai_tp_jours_ouvres
        } else {
            self.delai_jours_ouvres
        }
    }
}

/// A rule that fired on a fact, by position in the extracted facts: the lot, the invoice in
/// it, and for a line rule the line's index in the invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Firing {
    /// Index of the lot in [`crate::facts::Facts::lots`].
    pub lot: u32,
    /// Index of the invoice in its lot.
    pub invoice: u32,
    /// Index of the line in its invoice (line rules), `None` for invoice rules.
    pub line: Option<u32>,
    /// The rule.
    pub rule: Rule,
}
