//! Terms as users type and read them: full IRIs, `prefix:local` names with
//! the well-known prefixes, and N-Triples literals; and the compact form used
//! in tables.

use oxigraph::model::{Literal, NamedNode, Term};

use crate::error::{Error, Result};

/// Namespace of the project's ontology.
pub const RISK_NS: &str = "https://w3id.org/kgfuse/risk#";
/// Namespace of generated and sample data.
pub const DATA_NS: &str = "https://w3id.org/kgfuse/data/";
/// Namespace for the graphs kgfuse itself writes (samples, entailments, scores).
pub const GRAPH_NS: &str = "https://w3id.org/kgfuse/graph/";
/// kgfuse's own vocabulary: scores, predictions, explanations, SPARQL functions.
pub const KGFUSE_NS: &str = "https://w3id.org/kgfuse/ns#";

/// Prefixes understood in arguments and used to shorten IRIs in tables.
/// FIBO's ontology root; module paths follow (`FND/Relations/Relations/`).
pub const FIBO_NS: &str = "https://spec.edmcouncil.org/fibo/ontology/";
/// The OMG Commons ontologies that FIBO builds on.
pub const COMMONS_NS: &str = "https://www.omg.org/spec/Commons/";

pub const PREFIXES: &[(&str, &str)] = &[
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("skos", "http://www.w3.org/2004/02/skos/core#"),
    ("schema", "http://schema.org/"),
    ("org", "http://www.w3.org/ns/org#"),
    ("prov", "http://www.w3.org/ns/prov#"),
    // FIBO and the OMG Commons ontologies it builds on, by their roots: the
    // module path stays in the local name (`fibo:FND/Relations/Relations/controls`).
    ("fibo", FIBO_NS),
    ("cmns", COMMONS_NS),
    ("risk", RISK_NS),
    ("data", DATA_NS),
    ("kgg", GRAPH_NS),
    ("kgfuse", KGFUSE_NS),
];

/// Parses an IRI given as `<iri>`, a bare absolute IRI, or `prefix:local`.
pub fn parse_iri(text: &str) -> Result<NamedNode> {
    let text = text.trim();
    let iri = if let Some(inner) = text.strip_prefix('<').and_then(|t| t.strip_suffix('>')) {
        inner.to_owned()
    } else if let Some(expanded) = expand_prefixed(text) {
        expanded
    } else {
        text.to_owned()
    };
    NamedNode::new(iri.as_str()).map_err(|e| {
        Error::InvalidTerm(format!(
            "{text:?} is not an IRI ({e}); give <http://…>, an absolute IRI, or prefix:local with one of {}",
            prefix_names()
        ))
    })
}

/// Parses a term: an IRI form accepted by [`parse_iri`], or a literal in
/// N-Triples/Turtle syntax (`"text"`, `"text"@en`, `"1"^^xsd:integer`), or a bare number.
pub fn parse_term(text: &str) -> Result<Term> {
    let text = text.trim();
    if text.starts_with('"') {
        let (lexical, rest) = split_quoted(text).ok_or_else(|| {
            Error::InvalidTerm(format!("{text:?} is not a literal: missing closing quote"))
        })?;
        return Ok(if let Some(lang) = rest.strip_prefix('@') {
            Literal::new_language_tagged_literal(lexical, lang)
                .map_err(|e| Error::InvalidTerm(format!("bad language tag in {text:?}: {e}")))?
                .into()
        } else if let Some(datatype) = rest.strip_prefix("^^") {
            Literal::new_typed_literal(lexical, parse_iri(datatype)?).into()
        } else if rest.is_empty() {
            Literal::new_simple_literal(lexical).into()
        } else {
            return Err(Error::InvalidTerm(format!(
                "unexpected {rest:?} after the literal in {text:?}"
            )));
        });
    }
    if text.parse::<i64>().is_ok() {
        return Ok(Literal::new_typed_literal(text, oxigraph::model::vocab::xsd::INTEGER).into());
    }
    if text.parse::<f64>().is_ok() {
        return Ok(Literal::new_typed_literal(text, oxigraph::model::vocab::xsd::DECIMAL).into());
    }
    Ok(parse_iri(text)?.into())
}

/// Parses `S P O` (terms as in [`parse_term`], separated by spaces; quoted
/// literals may contain spaces) into a triple.
pub fn parse_triple(text: &str) -> Result<oxigraph::model::Triple> {
    let tokens = split_terms(text);
    let [s, p, o] = tokens.as_slice() else {
        return Err(Error::InvalidTerm(format!(
            "expected three terms 'SUBJECT PREDICATE OBJECT', found {} in {text:?}",
            tokens.len()
        )));
    };
    let subject = match parse_term(s)? {
        Term::NamedNode(n) => n,
        _ => {
            return Err(Error::InvalidTerm(format!(
                "the subject {s:?} must be an IRI"
            )))
        }
    };
    Ok(oxigraph::model::Triple::new(
        subject,
        parse_iri(p)?,
        parse_term(o)?,
    ))
}

/// Splits on spaces outside quotes and angle brackets.
fn split_terms(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let (mut in_quotes, mut in_iri, mut escaped) = (false, false, false);
    for c in text.trim().chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' if in_quotes => escaped = true,
            '"' if !in_iri => in_quotes = !in_quotes,
            '<' if !in_quotes => in_iri = true,
            '>' if !in_quotes => in_iri = false,
            c if c.is_whitespace() && !in_quotes && !in_iri => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

/// Splits `"lexical"rest`, unescaping `\"` and `\\`.
fn split_quoted(text: &str) -> Option<(String, &str)> {
    let mut lexical = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => {
                let (_, escaped) = chars.next()?;
                lexical.push(match escaped {
                    'n' => '\n',
                    't' => '\t',
                    other => other,
                });
            }
            '"' => return Some((lexical, &text[i + 1..])),
            other => lexical.push(other),
        }
    }
    None
}

fn expand_prefixed(text: &str) -> Option<String> {
    let (prefix, local) = text.split_once(':')?;
    if local.starts_with("//") {
        return None;
    }
    PREFIXES
        .iter()
        .find(|(name, _)| *name == prefix)
        .map(|(_, ns)| format!("{ns}{local}"))
}

fn prefix_names() -> String {
    PREFIXES
        .iter()
        .map(|(name, _)| *name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `namespace` followed by `name` with every byte outside the IRI unreserved
/// set (`A-Z a-z 0-9 - . _ ~`) percent-encoded: a name becomes an IRI.
pub fn iri_for_name(namespace: &str, name: &str) -> String {
    let mut iri = String::with_capacity(namespace.len() + name.len());
    iri.push_str(namespace);
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            iri.push(byte as char);
        } else {
            iri.push_str(&format!("%{byte:02X}"));
        }
    }
    iri
}

/// Short form of an IRI for display: `prefix:local` when a known prefix fits
/// and the local part is simple, `<iri>` otherwise.
pub fn compact_iri(iri: &str) -> String {
    for (name, ns) in PREFIXES {
        if let Some(local) = iri.strip_prefix(ns) {
            if !local.is_empty()
                && local
                    .chars()
                    .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
            {
                return format!("{name}:{local}");
            }
        }
    }
    format!("<{iri}>")
}

/// Short display of any term: compact IRIs, plain literals without quotes
/// when they are strings or numbers, N-Triples otherwise.
pub fn display_term(term: &Term) -> String {
    match term {
        Term::NamedNode(n) => compact_iri(n.as_str()),
        Term::Literal(l) => {
            let dt = l.datatype().as_str();
            let plain = l.language().is_none()
                && (dt.ends_with("#string")
                    || dt.ends_with("#integer")
                    || dt.ends_with("#decimal")
                    || dt.ends_with("#double")
                    || dt.ends_with("#boolean"));
            if plain {
                l.value().to_owned()
            } else if let Some(lang) = l.language() {
                format!("\"{}\"@{lang}", l.value())
            } else {
                format!("\"{}\"^^{}", l.value(), compact_iri(dt))
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_iri_forms() {
        let expected = format!("{RISK_NS}Company");
        assert_eq!(parse_iri("risk:Company").unwrap().as_str(), expected);
        assert_eq!(
            parse_iri(&format!("<{expected}>")).unwrap().as_str(),
            expected
        );
        assert_eq!(parse_iri(&expected).unwrap().as_str(), expected);
        assert!(parse_iri("not an iri").is_err());
    }

    #[test]
    fn parses_literals() {
        assert_eq!(
            parse_term("\"Acme \\\"Ltd\\\"\"@en").unwrap().to_string(),
            "\"Acme \\\"Ltd\\\"\"@en"
        );
        assert_eq!(
            parse_term("42").unwrap().to_string(),
            "\"42\"^^<http://www.w3.org/2001/XMLSchema#integer>"
        );
        assert!(parse_term("\"open").is_err());
    }

    #[test]
    fn parses_triples_with_spaced_literals() {
        let t = parse_triple("risk:a rdfs:label \"Acme \\\"Big\\\" Ltd\"@en").unwrap();
        assert_eq!(t.object.to_string(), "\"Acme \\\"Big\\\" Ltd\"@en");
        let t = parse_triple("<http://e/a b> <http://e/p> 3");
        assert!(t.is_err(), "spaces are not allowed in IRIs");
        assert!(parse_triple("risk:a risk:b").is_err());
    }

    #[test]
    fn compacts_known_namespaces() {
        assert_eq!(compact_iri(&format!("{RISK_NS}controls")), "risk:controls");
        assert_eq!(
            compact_iri("http://example.org/x"),
            "<http://example.org/x>"
        );
    }
}
