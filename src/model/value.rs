//! Typed field values.

use chrono::NaiveDate;

/// One typed field value. Amounts are integer hundredths (cents), as the formats require.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// An empty zone where the field may be empty (spaces, zeros for a date, an empty column).
    Absent,
    /// Text, identifiers made of digits and enumeration codes, as written (trailing spaces cut).
    Text(Box<str>),
    /// Integers, and amounts in units of their last decimal (cents for `N a+2`).
    Int(i64),
    /// A calendar date.
    Date(NaiveDate),
    /// A yes/no field.
    Bool(bool),
}

impl Value {
    /// The value as the report writes it: identifiers as written, dates `AAAA-MM-JJ`,
    /// booleans `O`/`N`; `None` when absent. Amounts are written by their field's type.
    pub fn display(&self) -> Option<String> {
        match self {
            Value::Absent => None,
            Value::Text(s) => Some(s.to_string()),
            Value::Int(i) => Some(i.to_string()),
            Value::Date(d) => Some(d.format("%Y-%m-%d").to_string()),
            Value::Bool(b) => Some(if *b { "O" } else { "N" }.to_string()),
        }
    }
}

/// `units` of the `decimals`-th decimal written with a dot: `932540`, 2 → `9325.40`;
/// `7000`, 4 → `0.7000`.
pub fn decimal_text(units: i64, decimals: u32) -> String {
    let Some(scale) = 10u64.checked_pow(decimals).filter(|_| decimals > 0) else {
        return units.to_string();
    };
    let sign = if units < 0 { "-" } else { "" };
    let (q, r) = (units.unsigned_abs() / scale, units.unsigned_abs() % scale);
    format!("{sign}{q}.{r:0width$}", width = decimals as usize)
}
