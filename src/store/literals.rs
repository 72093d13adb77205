//! What the embedded store does to typed literals. Oxigraph keeps booleans,
//! numbers, dates, times and durations by value (oxigraph issue 526), so a
//! literal comes back in its datatype's canonical form: `"0.00"^^xsd:decimal`
//! as `"0"`, `"+1"^^xsd:int` as `"1"^^xsd:integer`, and two literals with the
//! same value become one. The value is kept; the lexical form and a derived
//! integer datatype are not. The loader counts such literals and names the
//! first, so that a load says what it changed.

use std::fmt::Display;
use std::str::FromStr;

use oxigraph::model::vocab::xsd;
use oxigraph::model::{Literal, LiteralRef, NamedNodeRef};
use oxsdatatypes::{
    Boolean, Date, DateTime, DayTimeDuration, Decimal, Double, Duration, Float, GDay, GMonth,
    GMonthDay, GYear, GYearMonth, Integer, Time, YearMonthDuration,
};

/// The literal the embedded store will hand back for `literal`, when that
/// differs from it (`None`: stored as written).
pub fn stored_form(literal: LiteralRef<'_>) -> Option<Literal> {
    let value = literal.value();
    let (canonical, datatype) = match literal.datatype().as_str() {
        "http://www.w3.org/2001/XMLSchema#boolean" => (canonical::<Boolean>(value)?, xsd::BOOLEAN),
        "http://www.w3.org/2001/XMLSchema#float" => (canonical::<Float>(value)?, xsd::FLOAT),
        "http://www.w3.org/2001/XMLSchema#double" => (canonical::<Double>(value)?, xsd::DOUBLE),
        "http://www.w3.org/2001/XMLSchema#integer"
        | "http://www.w3.org/2001/XMLSchema#byte"
        | "http://www.w3.org/2001/XMLSchema#short"
        | "http://www.w3.org/2001/XMLSchema#int"
        | "http://www.w3.org/2001/XMLSchema#long"
        | "http://www.w3.org/2001/XMLSchema#unsignedByte"
        | "http://www.w3.org/2001/XMLSchema#unsignedShort"
        | "http://www.w3.org/2001/XMLSchema#unsignedInt"
        | "http://www.w3.org/2001/XMLSchema#unsignedLong"
        | "http://www.w3.org/2001/XMLSchema#positiveInteger"
        | "http://www.w3.org/2001/XMLSchema#negativeInteger"
        | "http://www.w3.org/2001/XMLSchema#nonPositiveInteger"
        | "http://www.w3.org/2001/XMLSchema#nonNegativeInteger" => {
            (canonical::<Integer>(value)?, xsd::INTEGER)
        }
        "http://www.w3.org/2001/XMLSchema#decimal" => (canonical::<Decimal>(value)?, xsd::DECIMAL),
        "http://www.w3.org/2001/XMLSchema#dateTime"
        | "http://www.w3.org/2001/XMLSchema#dateTimeStamp" => {
            (canonical::<DateTime>(value)?, xsd::DATE_TIME)
        }
        "http://www.w3.org/2001/XMLSchema#time" => (canonical::<Time>(value)?, xsd::TIME),
        "http://www.w3.org/2001/XMLSchema#date" => (canonical::<Date>(value)?, xsd::DATE),
        "http://www.w3.org/2001/XMLSchema#gYearMonth" => {
            (canonical::<GYearMonth>(value)?, xsd::G_YEAR_MONTH)
        }
        "http://www.w3.org/2001/XMLSchema#gYear" => (canonical::<GYear>(value)?, xsd::G_YEAR),
        "http://www.w3.org/2001/XMLSchema#gMonthDay" => {
            (canonical::<GMonthDay>(value)?, xsd::G_MONTH_DAY)
        }
        "http://www.w3.org/2001/XMLSchema#gDay" => (canonical::<GDay>(value)?, xsd::G_DAY),
        "http://www.w3.org/2001/XMLSchema#gMonth" => (canonical::<GMonth>(value)?, xsd::G_MONTH),
        "http://www.w3.org/2001/XMLSchema#duration" => {
            (canonical::<Duration>(value)?, xsd::DURATION)
        }
        "http://www.w3.org/2001/XMLSchema#yearMonthDuration" => (
            canonical::<YearMonthDuration>(value)?,
            xsd::YEAR_MONTH_DURATION,
        ),
        "http://www.w3.org/2001/XMLSchema#dayTimeDuration" => {
            (canonical::<DayTimeDuration>(value)?, xsd::DAY_TIME_DURATION)
        }
        _ => return None,
    };
    changed(literal, &canonical, datatype)
}

/// The value's canonical form; `None` when it does not parse (the store then
/// keeps the literal as written).
fn canonical<T: FromStr + Display>(value: &str) -> Option<String> {
    value.parse::<T>().ok().map(|v| v.to_string())
}

fn changed(literal: LiteralRef<'_>, value: &str, datatype: NamedNodeRef<'_>) -> Option<Literal> {
    (literal.value() != value || literal.datatype() != datatype)
        .then(|| Literal::new_typed_literal(value, datatype))
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::{GraphNameRef, NamedNode, QuadRef, Term};

    /// Each literal goes through a real in-memory oxigraph store; what comes
    /// back is what `stored_form` foretold.
    #[test]
    fn stored_form_matches_what_the_store_hands_back() {
        let cases: &[(&str, NamedNodeRef<'_>)] = &[
            ("0.00", xsd::DECIMAL),
            ("1.5", xsd::DECIMAL),
            ("+1", xsd::INT),
            ("01", xsd::INTEGER),
            ("7", xsd::INTEGER),
            ("99999999999999999999999", xsd::INTEGER),
            ("1", xsd::BOOLEAN),
            ("true", xsd::BOOLEAN),
            ("1.50E0", xsd::DOUBLE),
            ("2025-6-24T18:00:00", xsd::DATE_TIME),
            ("2025-06-24T18:00:00.0Z", xsd::DATE_TIME),
            ("2018-01-01", xsd::DATE),
            ("P1Y0M", xsd::DURATION),
            ("abc", xsd::INTEGER),
            ("0.00", xsd::STRING),
        ];
        let store = oxigraph::store::Store::new().unwrap();
        let subject = NamedNodeRef::new_unchecked("urn:s");
        for (i, &(value, datatype)) in cases.iter().enumerate() {
            let predicate = NamedNode::new_unchecked(format!("urn:p{i}"));
            let written = Literal::new_typed_literal(value, datatype);
            store
                .insert(QuadRef::new(
                    subject,
                    &predicate,
                    &written,
                    GraphNameRef::DefaultGraph,
                ))
                .unwrap();
            let read = store
                .quads_for_pattern(None, Some(predicate.as_ref()), None, None)
                .next()
                .unwrap()
                .unwrap()
                .object;
            let foretold = stored_form(written.as_ref()).unwrap_or_else(|| written.clone());
            assert_eq!(read, Term::from(foretold), "{written}");
        }
        assert_eq!(
            stored_form(Literal::new_typed_literal("+1", xsd::INT).as_ref()),
            Some(Literal::new_typed_literal("1", xsd::INTEGER))
        );
        assert_eq!(
            stored_form(Literal::new_typed_literal("7", xsd::INTEGER).as_ref()),
            None
        );
    }
}
