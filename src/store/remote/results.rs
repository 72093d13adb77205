//! SPARQL 1.1 JSON results read into oxigraph's result types. Our own reader
//! (not sparesults') because servers name blank nodes with labels that are
//! not valid blank-node identifiers (Virtuoso: `nodeID://b10000`); such a
//! label is kept, hex-encoded, so that the same node reads as the same node.

use std::sync::Arc;

use oxigraph::model::{BlankNode, Literal, NamedNode, Term, Variable};
use oxigraph::sparql::{QueryResults, QuerySolutionIter};
use serde_json::Value;

/// Parses a JSON results document; the error says what is wrong with it.
pub fn parse_json(body: &[u8]) -> Result<QueryResults<'static>, String> {
    let document: Value = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    if let Some(answer) = document.get("boolean") {
        return answer
            .as_bool()
            .map(QueryResults::Boolean)
            .ok_or_else(|| "\"boolean\" is not true or false".to_owned());
    }
    let names = document
        .pointer("/head/vars")
        .and_then(Value::as_array)
        .ok_or("no head.vars")?;
    let variables: Vec<Variable> = names
        .iter()
        .map(|name| {
            name.as_str()
                .and_then(|name| Variable::new(name).ok())
                .ok_or_else(|| format!("bad variable name {name}"))
        })
        .collect::<Result<_, _>>()?;
    let bindings = document
        .pointer("/results/bindings")
        .and_then(Value::as_array)
        .ok_or("no results.bindings")?;
    // Virtuoso (without CaseMode 2) answers ASK as one row of __ASK_RETVAL.
    if let ([variable], [row]) = (&variables[..], &bindings[..]) {
        if variable.as_str() == "__ASK_RETVAL" {
            let value = row.pointer("/__ASK_RETVAL/value").and_then(Value::as_str);
            return Ok(QueryResults::Boolean(value.is_some_and(|v| v != "0")));
        }
    }
    let rows: Vec<Vec<Option<Term>>> = bindings
        .iter()
        .map(|binding| {
            variables
                .iter()
                .map(|variable| binding.get(variable.as_str()).map(term).transpose())
                .collect::<Result<_, _>>()
        })
        .collect::<Result<_, _>>()?;
    let variables: Arc<[Variable]> = variables.into();
    Ok(QueryResults::Solutions(QuerySolutionIter::from_tuples(
        variables,
        rows.into_iter().map(Ok),
    )))
}

fn term(value: &Value) -> Result<Term, String> {
    let field = |name: &str| value.get(name).and_then(Value::as_str);
    let text = field("value").ok_or_else(|| format!("a term without a value: {value}"))?;
    match field("type") {
        Some("uri") => NamedNode::new(text)
            .map(Into::into)
            .map_err(|e| format!("bad IRI {text:?}: {e}")),
        Some("bnode") => Ok(blank_node(text).into()),
        Some("literal" | "typed-literal") => {
            if let Some(language) = field("xml:lang") {
                return Literal::new_language_tagged_literal(text, language)
                    .map(Into::into)
                    .map_err(|e| format!("bad language tag {language:?}: {e}"));
            }
            Ok(match field("datatype") {
                Some(datatype) => Literal::new_typed_literal(
                    text,
                    NamedNode::new(datatype)
                        .map_err(|e| format!("bad datatype {datatype:?}: {e}"))?,
                ),
                None => Literal::new_simple_literal(text),
            }
            .into())
        }
        other => Err(format!("unknown term type {other:?}")),
    }
}

/// A server's blank-node label as a valid identifier: itself when it is
/// one, else `x` and its bytes in hex.
fn blank_node(label: &str) -> BlankNode {
    BlankNode::new(label).unwrap_or_else(|_| {
        let hex: String = label.bytes().map(|b| format!("{b:02x}")).collect();
        BlankNode::new_unchecked(format!("x{hex}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_virtuoso_results_with_its_blank_node_labels() {
        let body = br#"{ "head": { "link": [], "vars": ["s", "o", "n"] },
          "results": { "distinct": false, "ordered": true, "bindings": [
            { "s": { "type": "bnode", "value": "nodeID://b10000" }, "o": { "type": "literal", "value": "1", "xml:lang": "en" },
              "n": { "type": "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#integer", "value": "3" }},
            { "s": { "type": "bnode", "value": "nodeID://b10000" }, "o": { "type": "uri", "value": "http://x/o" } } ] } }"#;
        let QueryResults::Solutions(solutions) = parse_json(body).unwrap() else {
            panic!("solutions expected")
        };
        let rows: Vec<_> = solutions.map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].get("s"), rows[1].get("s"), "one node, one label");
        assert_eq!(
            rows[0].get("n").unwrap().to_string(),
            "\"3\"^^<http://www.w3.org/2001/XMLSchema#integer>"
        );
        assert_eq!(rows[0].get("o").unwrap().to_string(), "\"1\"@en");
        assert!(rows[1].get("n").is_none());
        assert!(matches!(
            parse_json(br#"{"boolean": true}"#),
            Ok(QueryResults::Boolean(true))
        ));
        let virtuoso_ask = br#"{ "head": { "link": [], "vars": ["__ASK_RETVAL"] }, "results": { "bindings": [
            { "__ASK_RETVAL": { "type": "typed-literal", "datatype": "http://www.w3.org/2001/XMLSchema#integer", "value": "0" }} ] } }"#;
        assert!(matches!(
            parse_json(virtuoso_ask),
            Ok(QueryResults::Boolean(false))
        ));
        assert!(parse_json(b"<html>").is_err());
    }
}
