//! Field types shared by every grammar, and their nom decoders: the bytes of one zone or column
//! in, a typed [`Value`] or what was expected out.

use std::borrow::Cow;

use chrono::NaiveDate;
use nom::bytes::complete::{tag, take, take_while, take_while1, take_while_m_n};
use nom::combinator::{all_consuming, opt};
use nom::{IResult, Parser};

use crate::model::{DatePattern, FieldType, Value};

/// What a valid content of `ty` looks like, for error messages.
pub fn expected(ty: &FieldType, len: Option<usize>) -> String {
    let n = len.map(|l| format!("{l} ")).unwrap_or_default();
    match ty {
        FieldType::Text | FieldType::Filler => "texte".to_string(),
        FieldType::Digits | FieldType::Integer => format!("{n}chiffres"),
        FieldType::Amount {
            decimals,
            separator: None,
        } => format!("montant de {n}chiffres dont {decimals} décimales"),
        FieldType::Amount {
            separator: Some(s), ..
        } => format!("montant décimal (séparateur « {} »)", char::from(*s)),
        FieldType::Date(p) => format!("date {}", p.name()),
        FieldType::Bool { yes, no } => format!("{} ou {}", yes.join("/"), no.join("/")),
        FieldType::Enum(v) => format!("un code parmi {}", v.join(", ")),
        FieldType::Hex => format!("{n}chiffres hexadécimaux"),
    }
}

/// Why a zone could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFault {
    pub expected: String,
}

fn digits(n: usize) -> impl Fn(&[u8]) -> IResult<&[u8], &[u8]> {
    move |i| take_while_m_n(n, n, |c: u8| c.is_ascii_digit()).parse(i)
}

fn number(bytes: &[u8]) -> i64 {
    bytes
        .iter()
        .fold(0i64, |acc, b| acc * 10 + i64::from(b - b'0'))
}

/// Parses a date written with `pattern`; `None` when it is not a real calendar date.
fn date(pattern: DatePattern, input: &[u8]) -> Option<NaiveDate> {
    let parsed: IResult<&[u8], (i64, i64, i64)> = match pattern {
        DatePattern::Jjmmaa => all_consuming((digits(2), digits(2), digits(2)))
            .map(|(d, m, y)| (2000 + number(y), number(m), number(d)))
            .parse(input),
        DatePattern::Jjmmaaaa => all_consuming((digits(2), digits(2), digits(4)))
            .map(|(d, m, y)| (number(y), number(m), number(d)))
            .parse(input),
        DatePattern::Aaaammjj => all_consuming((digits(4), digits(2), digits(2)))
            .map(|(y, m, d)| (number(y), number(m), number(d)))
            .parse(input),
        DatePattern::Iso => all_consuming((digits(4), tag("-"), digits(2), tag("-"), digits(2)))
            .map(|(y, _, m, _, d)| (number(y), number(m), number(d)))
            .parse(input),
        DatePattern::Slashed => {
            all_consuming((digits(2), tag("/"), digits(2), tag("/"), digits(4)))
                .map(|(d, _, m, _, y)| (number(y), number(m), number(d)))
                .parse(input)
        }
    };
    let (_, (y, m, d)) = parsed.ok()?;
    NaiveDate::from_ymd_opt(y as i32, m as u32, d as u32)
}

fn explicit_amount(input: &[u8], separator: u8, decimals: u32) -> Option<i64> {
    let sep = [separator];
    let (_, (int, frac)) = all_consuming((
        take_while1(|c: u8| c.is_ascii_digit()),
        opt((
            tag::<_, _, nom::error::Error<&[u8]>>(&sep[..]),
            take_while_m_n(1, decimals as usize, |c: u8| c.is_ascii_digit()),
        )),
    ))
    .parse(input)
    .ok()?;
    if int.len() > 15 {
        return None;
    }
    let frac = frac.map(|(_, f)| f).unwrap_or(&[]);
    let missing = decimals.checked_sub(u32::try_from(frac.len()).ok()?)?;
    let scale = 10i64.checked_pow(missing)?;
    number(int)
        .checked_mul(10i64.checked_pow(decimals)?)?
        .checked_add(number(frac).checked_mul(scale)?)
}

/// Text of a zone, from ISO-8859-1 (each byte is the code point) or UTF-8; borrowed when the
/// bytes already are that text (ASCII, or valid UTF-8), as identifiers and codes are.
pub fn text(bytes: &[u8], latin1: bool) -> Cow<'_, str> {
    if latin1 && !bytes.is_ascii() {
        return Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect());
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => String::from_utf8_lossy(bytes),
    }
}

/// A text value of a zone.
fn text_value(bytes: &[u8], latin1: bool) -> Value {
    Value::Text(Box::from(text(bytes, latin1)))
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|&b| b == b' ')
}

/// Decodes one zone. `optional` says whether an empty zone is allowed for digit types;
/// `width` is the exact count of digits a delimited digit field must have, when set.
pub fn decode(
    ty: &FieldType,
    raw: &[u8],
    optional: bool,
    width: Option<usize>,
    latin1: bool,
) -> Result<Value, FieldFault> {
    let fault = || FieldFault {
        expected: expected(
            ty,
            width.or(Some(raw.len())).filter(|_| {
                matches!(
                    ty,
                    FieldType::Digits
                        | FieldType::Integer
                        | FieldType::Hex
                        | FieldType::Amount {
                            separator: None,
                            ..
                        }
                )
            }),
        ),
    };
    // Trailing spaces are padding for text; an all-space zone is absent.
    let mut trimmed = raw;
    while let [rest @ .., b' '] = trimmed {
        trimmed = rest;
    }
    match ty {
        FieldType::Filler => Ok(Value::Absent),
        FieldType::Text => {
            if trimmed.is_empty() {
                Ok(Value::Absent)
            } else if !latin1 && std::str::from_utf8(trimmed).is_err() {
                Err(FieldFault {
                    expected: "texte UTF-8".into(),
                })
            } else {
                Ok(text_value(trimmed, latin1))
            }
        }
        FieldType::Digits | FieldType::Integer | FieldType::Amount { .. } | FieldType::Hex
            if raw.is_empty() || is_blank(raw) =>
        {
            if optional {
                Ok(Value::Absent)
            } else {
                Err(fault())
            }
        }
        FieldType::Digits | FieldType::Integer => {
            let n = width.unwrap_or(raw.len());
            let ok: IResult<&[u8], &[u8]> = all_consuming(digits(n)).parse(raw);
            match ok {
                Ok(_) if matches!(ty, FieldType::Digits) => Ok(text_value(raw, true)),
                Ok(_) if raw.len() <= 18 => Ok(Value::Int(number(raw))),
                _ => Err(fault()),
            }
        }
        FieldType::Amount {
            separator: None, ..
        } => {
            let ok: IResult<&[u8], &[u8]> = all_consuming(digits(raw.len())).parse(raw);
            match ok {
                Ok(_) if raw.len() <= 18 => Ok(Value::Int(number(raw))),
                _ => Err(fault()),
            }
        }
        FieldType::Amount {
            separator: Some(sep),
            decimals,
        } => explicit_amount(raw, *sep, *decimals)
            .map(Value::Int)
            .ok_or_else(fault),
        FieldType::Hex => {
            let n = width.unwrap_or(raw.len());
            let ok: IResult<&[u8], &[u8]> =
                all_consuming(take_while_m_n(n, n, |c: u8| c.is_ascii_hexdigit())).parse(raw);
            ok.map(|_| text_value(raw, true)).map_err(|_| fault())
        }
        FieldType::Date(p) => {
            let zeros: IResult<&[u8], &[u8]> =
                all_consuming(take_while(|c: u8| c == b'0' || c == b' ')).parse(raw);
            if zeros.is_ok() {
                return Ok(Value::Absent);
            }
            let ok: IResult<&[u8], &[u8]> = take(p.width()).parse(raw);
            ok.ok()
                .and_then(|_| date(*p, raw))
                .map(Value::Date)
                .ok_or_else(fault)
        }
        FieldType::Bool { yes, no } => {
            let s = text(trimmed, latin1);
            if yes.iter().any(|y| *y == s) {
                Ok(Value::Bool(true))
            } else if no.iter().any(|n| *n == s) {
                Ok(Value::Bool(false))
            } else if s.is_empty() && optional {
                Ok(Value::Absent)
            } else {
                Err(fault())
            }
        }
        FieldType::Enum(values) => {
            let s = text(trimmed, latin1);
            if values.iter().any(|v| *v == s) {
                Ok(Value::Text(Box::from(s)))
            } else if s.is_empty() && optional {
                Ok(Value::Absent)
            } else {
                Err(fault())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, dd: u32) -> Value {
        Value::Date(NaiveDate::from_ymd_opt(y, m, dd).unwrap())
    }

    #[test]
    fn dates_in_every_pattern() {
        let t = |p, s: &str| decode(&FieldType::Date(p), s.as_bytes(), false, None, true);
        assert_eq!(t(DatePattern::Jjmmaa, "311226"), Ok(d(2026, 12, 31)));
        assert_eq!(t(DatePattern::Jjmmaa, "010199"), Ok(d(2099, 1, 1)));
        assert_eq!(t(DatePattern::Jjmmaaaa, "29022024"), Ok(d(2024, 2, 29)));
        assert!(t(DatePattern::Jjmmaaaa, "29022025").is_err());
        assert!(t(DatePattern::Jjmmaa, "310426").is_err(), "31 April");
        assert_eq!(t(DatePattern::Aaaammjj, "20250501"), Ok(d(2025, 5, 1)));
        assert_eq!(t(DatePattern::Iso, "2026-11-20"), Ok(d(2026, 11, 20)));
        assert_eq!(t(DatePattern::Slashed, "01/05/2025"), Ok(d(2025, 5, 1)));
        assert_eq!(t(DatePattern::Jjmmaa, "000000"), Ok(Value::Absent));
        assert_eq!(t(DatePattern::Jjmmaa, "      "), Ok(Value::Absent));
        assert_eq!(t(DatePattern::Iso, ""), Ok(Value::Absent));
        assert!(t(DatePattern::Jjmmaa, "12AB26").is_err());
    }

    #[test]
    fn amounts_implied_and_explicit() {
        let implied = FieldType::Amount {
            decimals: 2,
            separator: None,
        };
        assert_eq!(
            decode(&implied, b"0001250", false, None, true),
            Ok(Value::Int(1250))
        );
        assert!(decode(&implied, b"00012A0", false, None, true).is_err());
        assert!(decode(&implied, b"       ", false, None, true).is_err());
        let comma = FieldType::Amount {
            decimals: 2,
            separator: Some(b','),
        };
        assert_eq!(
            decode(&comma, b"48210,50", false, None, false),
            Ok(Value::Int(4821050))
        );
        assert_eq!(
            decode(&comma, b"48210,5", false, None, false),
            Ok(Value::Int(4821050))
        );
        assert_eq!(
            decode(&comma, b"12", false, None, false),
            Ok(Value::Int(1200))
        );
        assert!(decode(&comma, b"12,345", false, None, false).is_err());
        assert!(decode(&comma, b"1.5", false, None, false).is_err());
        assert_eq!(decode(&comma, b"", true, None, false), Ok(Value::Absent));
    }

    #[test]
    fn digits_text_bool_enum() {
        assert_eq!(
            decode(&FieldType::Digits, b"001", false, None, true),
            Ok(Value::Text("001".into()))
        );
        assert!(decode(&FieldType::Digits, b"0 1", false, None, true).is_err());
        assert!(decode(&FieldType::Digits, b"12345678", false, Some(9), false).is_err());
        assert_eq!(
            decode(&FieldType::Digits, b"   ", true, None, true),
            Ok(Value::Absent)
        );
        assert_eq!(
            decode(&FieldType::Text, b"\xC9MILE  ", false, None, true),
            Ok(Value::Text("ÉMILE".into()))
        );
        let b = FieldType::Bool {
            yes: vec!["OUI".into()],
            no: vec!["NON".into()],
        };
        assert_eq!(
            decode(&b, b"OUI", false, None, false),
            Ok(Value::Bool(true))
        );
        assert!(decode(&b, b"OIU", false, None, false).is_err());
        let e = FieldType::Enum(vec!["S".into(), "P".into()]);
        assert!(decode(&e, b"X", false, None, true).is_err());
    }
}
