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

impl Value {
    /// Appends what [`Value::display`] gives to `out`, without allocating; `false` when
    /// absent (nothing appended).
    pub fn write_display(&self, out: &mut String) -> bool {
        match self {
            Value::Absent => return false,
            Value::Text(s) => out.push_str(s),
            Value::Int(i) => write_int(*i, out),
            Value::Date(d) => write_iso_date(*d, out),
            Value::Bool(b) => out.push(if *b { 'O' } else { 'N' }),
        }
        true
    }
}

/// Appends `i` in decimal, as `{i}` would, without the formatting machinery.
fn write_int(i: i64, out: &mut String) {
    if i < 0 {
        out.push('-');
    }
    let mut digits = [0u8; 20];
    let mut n = i.unsigned_abs();
    let mut at = digits.len();
    loop {
        at -= 1;
        if let Some(d) = digits.get_mut(at) {
            *d = b'0' + (n % 10) as u8;
        }
        n /= 10;
        if n == 0 || at == 0 {
            break;
        }
    }
    for &d in digits.get(at..).unwrap_or_default() {
        out.push(char::from(d));
    }
}

/// Appends `n` on `width` digits, zeros first.
fn write_padded(n: u32, width: u32, out: &mut String) {
    for place in (0..width).rev() {
        let d = n / 10u32.pow(place) % 10;
        out.push(char::from(b'0' + d as u8));
    }
}

/// Appends `d` as `AAAA-MM-JJ` (what `%Y-%m-%d` gives, for the years 0 to 9999, without
/// parsing a format each time).
pub fn write_iso_date(d: NaiveDate, out: &mut String) {
    use chrono::Datelike;
    match u32::try_from(d.year()).ok().filter(|&y| y <= 9999) {
        Some(year) => write_padded(year, 4, out),
        None => out.push_str(&d.format("%Y").to_string()),
    }
    out.push('-');
    write_padded(d.month(), 2, out);
    out.push('-');
    write_padded(d.day(), 2, out);
}

/// `d` as `AAAA-MM-JJ`.
pub fn iso_date(d: NaiveDate) -> String {
    let mut s = String::with_capacity(10);
    write_iso_date(d, &mut s);
    s
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_values_are_those_display_gives() {
        for v in [
            Value::Int(0),
            Value::Int(-7),
            Value::Int(1_234_567_890),
            Value::Int(i64::MIN),
            Value::Int(i64::MAX),
            Value::Date(NaiveDate::from_ymd_opt(2026, 1, 9).unwrap()),
            Value::Date(NaiveDate::from_ymd_opt(999, 12, 31).unwrap()),
            Value::Date(NaiveDate::from_ymd_opt(-44, 3, 15).unwrap()),
            Value::Text("été".into()),
            Value::Bool(true),
        ] {
            let mut s = String::new();
            v.write_display(&mut s);
            assert_eq!(Some(s), v.display(), "{v:?}");
        }
    }
}
