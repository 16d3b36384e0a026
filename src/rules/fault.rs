//! How a rule's failure is told, without ever quoting a fact's value. Errors vigie raises
//! itself (a helper given a bad argument, a field that does not exist) carry a message vigie
//! wrote from names alone; the engine's own messages, which may quote values (`parse_int` on a
//! NIR, `throw` of a name, an overflow with its operands), are replaced by the kind of fault.

use std::fmt;

use rhai::EvalAltResult;

/// An error raised by vigie inside a script: its message names fields and helpers, never
/// values.
#[derive(Debug)]
pub struct RuleFault(pub String);

impl fmt::Display for RuleFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RuleFault {}

/// The marker of a read of a field that a fault made unreadable: the rule does not run on that
/// fact — it neither fires nor fails (the fault's own error outcome tells why).
#[derive(Debug)]
pub struct Unreadable;

impl fmt::Display for Unreadable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("champ illisible")
    }
}

impl std::error::Error for Unreadable {}

/// The error a read of an unreadable field raises.
pub fn unreadable() -> Box<EvalAltResult> {
    Box::new(EvalAltResult::ErrorSystem(
        "champ illisible".into(),
        Box::new(Unreadable),
    ))
}

/// Whether `e` comes from reading an unreadable field (directly or inside a call).
pub fn is_unreadable(e: &EvalAltResult) -> bool {
    match e {
        EvalAltResult::ErrorSystem(_, inner) => inner.is::<Unreadable>(),
        EvalAltResult::ErrorInFunctionCall(_, _, inner, _)
        | EvalAltResult::ErrorInModule(_, inner, _) => is_unreadable(inner),
        _ => false,
    }
}

/// A script error with a message that holds no fact value.
pub fn fault(message: impl Into<String>) -> Box<EvalAltResult> {
    let message = message.into();
    Box::new(EvalAltResult::ErrorSystem(
        message.clone(),
        Box::new(RuleFault(message)),
    ))
}

/// What went wrong, in words that quote no value read from a fact.
pub fn describe(e: &EvalAltResult) -> String {
    use EvalAltResult as E;
    match e {
        E::ErrorSystem(message, inner) if inner.is::<RuleFault>() => message.clone(),
        E::ErrorSystem(..) => "erreur interne du moteur de règles".into(),
        E::ErrorTooManyOperations(_) => {
            "trop d'opérations (boucle sans fin ?) : limite `max_operations` atteinte".into()
        }
        E::ErrorTerminated(..) => "trop long : durée maximale d'une règle sur un fait atteinte".into(),
        E::ErrorStackOverflow(_) => "appels trop profonds : limite `max_call_levels` atteinte".into(),
        E::ErrorDataTooLarge(what, _) => format!("donnée trop grande ({what})"),
        E::ErrorTooManyVariables(_) => "trop de variables".into(),
        E::ErrorInFunctionCall(name, _, inner, _) => format!("dans {name} : {}", describe(inner)),
        E::ErrorInModule(_, inner, _) => describe(inner),
        E::ErrorFunctionNotFound(signature, _) => {
            // A signature lists argument types, never values: `sub_string ((), i64, i64)`.
            format!("aucune fonction {signature} (un argument est-il absent, `()` ?)")
        }
        E::ErrorVariableNotFound(name, _) => format!("variable inconnue « {name} »"),
        // A map key can be a fact value (`m[facture.nir]`): it is not quoted.
        E::ErrorPropertyNotFound(..) => "clé ou propriété absente de la table".into(),
        E::ErrorMismatchDataType(want, got, _) => format!("type {got} au lieu de {want}"),
        E::ErrorMismatchOutputType(want, got, _) => {
            format!("la règle renvoie {got} au lieu de {want}")
        }
        E::ErrorIndexingType(ty, _) => format!("{ty} ne s'indexe pas"),
        E::ErrorArrayBounds(len, _, _) => format!("indice hors d'une liste de {len} éléments"),
        E::ErrorStringBounds(len, _, _) => format!("position hors d'un texte de {len} caractères"),
        E::ErrorBitFieldBounds(..) => "bit hors limites".into(),
        E::ErrorIndexNotFound(..) => "clé absente de la table".into(),
        E::ErrorArithmetic(..) => {
            "erreur de calcul (division par zéro, dépassement, nombre illisible) ; la valeur en cause n'est pas reproduite".into()
        }
        E::ErrorRuntime(..) => {
            "la règle a levé une erreur (throw) ; sa valeur n'est pas reproduite".into()
        }
        E::ErrorAssignmentToConstant(name, _) => format!("« {name} » est une constante"),
        E::ErrorFor(_) => "`for` sur une valeur qui ne se parcourt pas".into(),
        E::ErrorUnboundThis(_) => "`this` hors d'une méthode".into(),
        E::ErrorDotExpr(..) => "accès par point impossible sur cette valeur".into(),
        E::ErrorParsing(kind, _) => format!("script illisible : {kind}"),
        _ => "erreur du script".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rhai::{Dynamic, Position};

    #[test]
    fn values_never_reach_the_message() {
        let secret = "253072A073004";
        for e in [
            EvalAltResult::ErrorArithmetic(
                format!("Error parsing integer number '{secret}'"),
                Position::NONE,
            ),
            EvalAltResult::ErrorRuntime(Dynamic::from(secret.to_string()), Position::NONE),
            EvalAltResult::ErrorIndexNotFound(Dynamic::from(secret.to_string()), Position::NONE),
            EvalAltResult::ErrorPropertyNotFound(secret.into(), Position::NONE),
            EvalAltResult::ErrorInFunctionCall(
                "parse_int".into(),
                String::new(),
                Box::new(EvalAltResult::ErrorArithmetic(
                    secret.into(),
                    Position::NONE,
                )),
                Position::NONE,
            ),
        ] {
            let m = describe(&e);
            assert!(!m.contains(secret), "{m}");
        }
        assert_eq!(
            describe(&fault("sum : « montant » n'est pas un nombre")),
            "sum : « montant » n'est pas un nombre"
        );
    }
}
