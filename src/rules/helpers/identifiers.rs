//! Identifier keys (docs/formats/identifiers.md): Luhn for professional and doctor numbers, the
//! NIR's form and its modulo-97 key with Corsica.

use rhai::{Dynamic, Engine, ImmutableString};

/// Luhn check over a string of digits (n° PS, RPPS, FINESS). False when not all digits.
pub fn luhn(s: &str) -> bool {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = s
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b - b'0');
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 {
                    x - 9
                } else {
                    x
                }
            } else {
                d
            }
        })
        .sum();
    sum % 10 == 0
}

/// NIR well-formed (docs/formats/identifiers.md): 13 characters, first `1`, `2`, `7` or `8`, characters
/// 2–5 and 8–13 digits, 6–7 digits or `2A`/`2B`.
pub fn nir_well_formed(nir: &str) -> bool {
    let Ok(b) = <&[u8; 13]>::try_from(nir.as_bytes()) else {
        return false;
    };
    let [sex, y1, y2, m1, m2, d1, d2, rest @ ..] = b;
    let digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    let dept = [*d1, *d2];
    matches!(sex, b'1' | b'2' | b'7' | b'8')
        && digits(&[*y1, *y2, *m1, *m2])
        && digits(rest)
        && (digits(&dept) || &dept == b"2A" || &dept == b"2B")
}

/// NIR key = 97 − (N mod 97), `2A` read as `19` and `2B` as `18`. `None` when not well-formed.
pub fn nir_key(nir: &str) -> Option<i64> {
    if !nir_well_formed(nir) {
        return None;
    }
    let n: String = nir.replace("2A", "19").replace("2B", "18");
    let n: u64 = n.parse().ok()?;
    Some(97 - i64::try_from(n % 97).ok()?)
}

/// Registers `luhn`, `nir_well_formed` and `nir_key`.
pub fn register(engine: &mut Engine) {
    engine
        .register_fn("luhn", |s: ImmutableString| luhn(&s))
        .register_fn("nir_well_formed", |s: ImmutableString| nir_well_formed(&s))
        .register_fn("nir_key", |s: ImmutableString| {
            nir_key(&s).map_or(Dynamic::UNIT, Dynamic::from)
        });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifier_examples_of_the_specification() {
        assert_eq!(nir_key("2550814168025"), Some(38));
        assert_eq!(nir_key("2951099126111"), Some(93));
        assert_eq!(nir_key("253072A073004"), Some(43));
        assert_eq!(nir_key("253072B073004"), Some(70));
        assert!(luhn("990781056"));
        assert!(luhn("10005173140"));
        assert!(luhn("750712184"));
        assert!(!luhn("10005678901"));
        assert!(!luhn(""));
        assert!(!luhn("99078105A"));
    }

    #[test]
    fn nir_forms() {
        assert!(nir_well_formed("2550814168025"));
        assert!(!nir_well_formed("3550814168025"), "first character");
        assert!(!nir_well_formed("255081416802"), "12 characters");
        assert!(
            !nir_well_formed("25508A4168025"),
            "letter in 2–5... position 6"
        );
        assert!(!nir_well_formed("253072C073004"), "2C is not Corsica");
        assert_eq!(nir_key("2530A2A073004"), None);
    }
}
