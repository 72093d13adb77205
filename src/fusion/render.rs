//! Explanations as JSON, Graphviz DOT, Turtle (PROV-O, loadable back into
//! the store) and one self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::vocab::{rdf, xsd};
use oxigraph::model::{Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Term, Triple};
use sha2::{Digest, Sha256};

use super::explain::Explanation;
use super::pipeline::label_term;
use crate::error::{Error, Result};
use crate::reason::DerivationTree;
use crate::store::terms::{compact_iri, KGFUSE_NS};

/// Output formats of `kgfuse explain`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExplanationFormat {
    Json,
    Dot,
    Turtle,
    Html,
}

impl ExplanationFormat {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "json" => Ok(Self::Json),
            "dot" => Ok(Self::Dot),
            "turtle" | "ttl" => Ok(Self::Turtle),
            "html" => Ok(Self::Html),
            other => Err(Error::UnsupportedOutput(format!(
                "unknown explanation format {other:?}: use json, dot, turtle or html"
            ))),
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Dot => "dot",
            Self::Turtle => "ttl",
            Self::Html => "html",
        }
    }
}

pub fn render(explanation: &Explanation, format: ExplanationFormat) -> Result<String> {
    match format {
        ExplanationFormat::Json => serde_json::to_string_pretty(explanation)
            .map_err(|e| Error::Model(format!("explanation as JSON: {e}"))),
        ExplanationFormat::Dot => Ok(dot(explanation)),
        ExplanationFormat::Turtle => turtle(explanation),
        ExplanationFormat::Html => Ok(html(explanation)),
    }
}

/// Nodes of all paths with their labels and distance from the entity.
fn path_nodes(e: &Explanation) -> BTreeMap<String, (String, usize)> {
    let mut nodes = BTreeMap::new();
    nodes.insert(e.entity.clone(), (e.entity_label.clone(), 0));
    for path in &e.paths {
        let mut at = e.entity.clone();
        for (depth, step) in path.steps.iter().enumerate() {
            let (next, label) = if step.subject == at {
                (step.object.clone(), step.object_label.clone())
            } else {
                (step.subject.clone(), step.subject_label.clone())
            };
            let entry = nodes.entry(next.clone()).or_insert((label, depth + 1));
            entry.1 = entry.1.min(depth + 1);
            at = next;
        }
    }
    nodes
}

/// Distinct edges of all paths, with the largest attribution seen.
fn path_edges(e: &Explanation) -> BTreeMap<(String, String, String), (f64, bool)> {
    let mut edges: BTreeMap<(String, String, String), (f64, bool)> = BTreeMap::new();
    for step in e.paths.iter().flat_map(|p| &p.steps) {
        let key = (
            step.subject.clone(),
            step.predicate.clone(),
            step.object.clone(),
        );
        let entry = edges
            .entry(key)
            .or_insert((step.attribution, step.inferred));
        entry.0 = entry.0.max(step.attribution);
    }
    edges
}

fn short(iri: &str) -> String {
    compact_iri(iri.trim_start_matches('<').trim_end_matches('>'))
}

fn dot(e: &Explanation) -> String {
    let escape = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let mut out =
        String::from("digraph explanation {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n");
    let ids: BTreeMap<String, usize> = path_nodes(e)
        .keys()
        .enumerate()
        .map(|(i, k)| (k.clone(), i))
        .collect();
    for (node, (label, _)) in path_nodes(e) {
        let extra = if node == e.entity {
            ", style=\"rounded,bold\""
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "  n{} [label=\"{}\"{extra}];",
            ids[&node],
            escape(&label)
        );
    }
    for ((s, p, o), (attribution, inferred)) in path_edges(e) {
        let style = if inferred { ", style=dashed" } else { "" };
        let _ = writeln!(
            out,
            "  n{} -> n{} [label=\"{} ({attribution:+.3})\", penwidth={:.2}{style}];",
            ids[&s],
            ids[&o],
            escape(&short(&p)),
            1.0 + 4.0 * attribution.abs().min(1.0)
        );
    }
    out.push_str("}\n");
    out
}

fn parse_node(text: &str) -> NamedOrBlankNode {
    match text.strip_prefix("_:") {
        Some(id) => oxigraph::model::BlankNode::new_unchecked(id).into(),
        None => NamedNode::new_unchecked(text.trim_start_matches('<').trim_end_matches('>')).into(),
    }
}

/// `rdf:Statement` nodes for the premises of `statement` (which
/// `derivation` derived), each `prov:wasDerivedFrom` of it, with their own
/// premises in turn; `kgfuse:derivedByRule` names each rule. Premise nodes
/// are named `{base}-premise{n}`, numbered in depth-first order.
fn derivation_triples(
    statement: &NamedNode,
    derivation: &DerivationTree,
    base: &str,
    premises: &mut usize,
    triples: &mut Vec<Triple>,
) {
    let Some(rule) = derivation.rule else {
        return; // asserted: nothing derived it
    };
    let k = |local: &str| NamedNode::new_unchecked(format!("{KGFUSE_NS}{local}"));
    triples.push(Triple::new(
        statement.clone(),
        k("derivedByRule"),
        Literal::new_simple_literal(rule),
    ));
    for premise in &derivation.premises {
        *premises += 1;
        let node = NamedNode::new_unchecked(format!("{base}-premise{premises}"));
        let t = &premise.triple;
        triples.extend([
            Triple::new(statement.clone(), PROV_WAS_DERIVED_FROM, node.clone()),
            Triple::new(node.clone(), rdf::TYPE, rdf::STATEMENT),
            Triple::new(node.clone(), rdf::SUBJECT, t.subject.clone()),
            Triple::new(node.clone(), rdf::PREDICATE, t.predicate.clone()),
            Triple::new(node.clone(), rdf::OBJECT, t.object.clone()),
        ]);
        derivation_triples(&node, premise, base, premises, triples);
    }
}

const PROV_WAS_DERIVED_FROM: NamedNodeRef<'static> =
    NamedNodeRef::new_unchecked("http://www.w3.org/ns/prov#wasDerivedFrom");

fn turtle(e: &Explanation) -> Result<String> {
    let k = |local: &str| NamedNode::new_unchecked(format!("{KGFUSE_NS}{local}"));
    let prov = |local: &str| NamedNode::new_unchecked(format!("http://www.w3.org/ns/prov#{local}"));
    // The prediction is part of the name: one entity can be explained as
    // the answer to several questions.
    let digest = Sha256::digest(format!("{} {}", e.entity, e.predicted).as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let base = format!("urn:kgfuse:explanation:{}:{hash}", e.model_id);
    let root = NamedNode::new_unchecked(&base);
    let model = NamedNode::new_unchecked(format!("urn:kgfuse:model:{}", e.model_id));
    let double = |v: f64| Term::from(Literal::new_typed_literal(format!("{v}"), xsd::DOUBLE));
    let mut triples = vec![
        Triple::new(root.clone(), rdf::TYPE, k("Explanation")),
        Triple::new(root.clone(), rdf::TYPE, prov("Entity")),
        Triple::new(
            root.clone(),
            k("explains"),
            Term::from(parse_node(&e.entity)),
        ),
        Triple::new(root.clone(), k("predictedLabel"), label_term(&e.predicted)),
        Triple::new(root.clone(), k("probability"), double(e.probability)),
        Triple::new(root.clone(), k("score"), double(e.score)),
        Triple::new(
            root.clone(),
            k("attributionMethod"),
            Literal::new_simple_literal(&e.method),
        ),
        Triple::new(root.clone(), prov("wasAttributedTo"), model.clone()),
        Triple::new(model.clone(), rdf::TYPE, prov("SoftwareAgent")),
    ];
    for path in &e.paths {
        let p = NamedNode::new_unchecked(format!("{base}#path{}", path.rank));
        triples.push(Triple::new(root.clone(), k("path"), p.clone()));
        triples.push(Triple::new(p.clone(), rdf::TYPE, k("ExplanationPath")));
        triples.push(Triple::new(
            p.clone(),
            k("rank"),
            Literal::from(path.rank as i64),
        ));
        triples.push(Triple::new(
            p.clone(),
            k("attribution"),
            double(path.attribution),
        ));
        triples.push(Triple::new(
            p.clone(),
            k("sparql"),
            Literal::new_simple_literal(&path.sparql),
        ));
        for (i, step) in path.steps.iter().enumerate() {
            let s = NamedNode::new_unchecked(format!("{base}#path{}-step{}", path.rank, i + 1));
            triples.push(Triple::new(p.clone(), k("step"), s.clone()));
            triples.push(Triple::new(s.clone(), rdf::TYPE, rdf::STATEMENT));
            triples.push(Triple::new(
                s.clone(),
                rdf::SUBJECT,
                Term::from(parse_node(&step.subject)),
            ));
            triples.push(Triple::new(
                s.clone(),
                rdf::PREDICATE,
                NamedNode::new_unchecked(
                    step.predicate.trim_start_matches('<').trim_end_matches('>'),
                ),
            ));
            triples.push(Triple::new(
                s.clone(),
                rdf::OBJECT,
                Term::from(parse_node(&step.object)),
            ));
            triples.push(Triple::new(
                s.clone(),
                k("position"),
                Literal::from((i + 1) as i64),
            ));
            triples.push(Triple::new(
                s.clone(),
                k("attribution"),
                double(step.attribution),
            ));
            triples.push(Triple::new(
                s.clone(),
                k("inferred"),
                Literal::from(step.inferred),
            ));
            if let Some(derivation) = &step.derivation {
                let mut premises = 0;
                derivation_triples(&s, derivation, s.as_str(), &mut premises, &mut triples);
            }
        }
    }
    for (i, span) in e.spans.iter().enumerate() {
        let s = NamedNode::new_unchecked(format!("{base}#span{}", i + 1));
        triples.push(Triple::new(root.clone(), k("span"), s.clone()));
        triples.push(Triple::new(s.clone(), rdf::TYPE, k("TextSpan")));
        triples.push(Triple::new(
            s.clone(),
            k("text"),
            Literal::new_simple_literal(&span.text),
        ));
        triples.push(Triple::new(
            s.clone(),
            k("startChar"),
            Literal::from(span.start as i64),
        ));
        triples.push(Triple::new(
            s.clone(),
            k("endChar"),
            Literal::from(span.end as i64),
        ));
        triples.push(Triple::new(
            s.clone(),
            k("source"),
            Literal::new_simple_literal(&span.source),
        ));
        triples.push(Triple::new(
            s.clone(),
            k("attribution"),
            double(span.attribution),
        ));
    }
    let mut serializer = RdfSerializer::from_format(RdfFormat::Turtle)
        .with_prefix("kgfuse", KGFUSE_NS)
        .and_then(|s| s.with_prefix("prov", "http://www.w3.org/ns/prov#"))
        .map_err(|e| Error::Model(e.to_string()))?
        .for_writer(Vec::new());
    for t in &triples {
        serializer
            .serialize_triple(t)
            .map_err(|e| Error::Model(e.to_string()))?;
    }
    let bytes = serializer
        .finish()
        .map_err(|e| Error::Model(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| Error::Model(e.to_string()))
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One page: the paths drawn as an SVG graph (columns by hop), a table of
/// paths with their SPARQL, and the text spans highlighted.
fn html(e: &Explanation) -> String {
    let nodes = path_nodes(e);
    let mut columns: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for (node, (_, depth)) in &nodes {
        columns.entry(*depth).or_default().push(node);
    }
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let (width, height) = (260 * columns.len().max(1) + 40, 70 * rows + 40);
    let mut at: BTreeMap<&String, (usize, usize)> = BTreeMap::new();
    for (depth, list) in &columns {
        for (i, node) in list.iter().enumerate() {
            at.insert(node, (40 + 260 * depth, 40 + 70 * i));
        }
    }
    let mut svg = format!("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
    for ((s, p, o), (attribution, inferred)) in path_edges(e) {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (at.get(&s), at.get(&o)) else {
            continue;
        };
        let colour = if attribution >= 0.0 { "#2a7" } else { "#c33" };
        let dash = if inferred {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            svg,
            "<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"{colour}\" stroke-width=\"{:.1}\"{dash}/><text x=\"{}\" y=\"{}\" fill=\"#555\">{} ({attribution:+.3})</text>",
            x1 + 90, y1 + 15, x2 + 90, y2 + 15,
            1.0 + 5.0 * attribution.abs().min(1.0),
            (x1 + x2) / 2 + 20, (y1 + y2) / 2 + 10,
            escape_html(&short(&p))
        );
    }
    for (node, (label, _)) in &nodes {
        let (x, y) = at[node];
        let fill = if *node == e.entity {
            "#ffe9a8"
        } else {
            "#eef3fb"
        };
        let _ = writeln!(
            svg,
            "<g class=\"node\"><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"180\" height=\"30\" rx=\"8\" fill=\"{fill}\" stroke=\"#678\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            escape_html(node),
            x + 8,
            y + 19,
            escape_html(&label.chars().take(26).collect::<String>())
        );
    }
    svg.push_str("</svg>");
    let mut paths = String::new();
    for p in &e.paths {
        let steps: Vec<String> = p
            .steps
            .iter()
            .map(|s| {
                format!(
                    "{} <b>{}</b> {}{}",
                    escape_html(&s.subject_label),
                    escape_html(&short(&s.predicate)),
                    escape_html(&s.object_label),
                    if s.inferred { " <i>(inferred)</i>" } else { "" }
                )
            })
            .collect();
        let _ = writeln!(
            paths,
            "<tr><td>{}</td><td>{:+.4}</td><td>{}</td><td><pre>{}</pre></td></tr>",
            p.rank,
            p.attribution,
            steps.join(" ;<br>"),
            escape_html(&p.sparql)
        );
    }
    let mut spans = String::new();
    for s in &e.spans {
        let chars: Vec<char> = s.text.chars().collect();
        let (a, b) = (s.start.min(chars.len()), s.end.min(chars.len()));
        let piece = |r: std::ops::Range<usize>| escape_html(&chars[r].iter().collect::<String>());
        let _ = writeln!(
            spans,
            "<li><span class=\"score\">{:+.4}</span> <small>{}</small><br>{}<mark>{}</mark>{}</li>",
            s.attribution,
            escape_html(&s.source),
            piece(0..a),
            piece(a..b),
            piece(b..chars.len())
        );
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Explanation: {label}</title>\n<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}pre{{margin:0;font-size:11px}}mark{{background:#ffe08a}}.score{{font-family:monospace}}</style></head>\n<body>\n<h1>{label}</h1>\n<p>Predicted <b>{predicted}</b> with probability {probability:.3} (score {score:.3}) by model <code>{model}</code>.<br>Attribution: {method}.</p>\n<h2>Paths</h2>\n{svg}\n<table><tr><th>#</th><th>attribution</th><th>path</th><th>SPARQL that verifies it</th></tr>\n{paths}</table>\n<h2>Text spans</h2>\n<ol>\n{spans}</ol>\n</body></html>\n",
        label = escape_html(&e.entity_label),
        predicted = escape_html(&short(&e.predicted)),
        probability = e.probability,
        score = e.score,
        model = e.model_id,
        method = escape_html(&e.method),
    )
}

#[cfg(test)]
mod tests {
    use oxigraph::io::RdfParser;

    use super::*;
    use crate::fusion::explain::{ExplainedPath, PathStep};

    const EX: &str = "http://example.org/";

    fn iri(name: &str) -> NamedNode {
        NamedNode::new(format!("{EX}{name}")).unwrap()
    }

    fn triple(s: &str, p: &str, o: &str) -> Triple {
        Triple::new(iri(s), iri(p), iri(o))
    }

    /// `a controls c` derived (rule-b) from `a controls b`, itself derived
    /// (rule-a) from the asserted `a owns b`, and from the asserted
    /// `b controls c`.
    fn explanation() -> Explanation {
        let asserted = |t: Triple| DerivationTree {
            triple: t,
            rule: None,
            premises: Vec::new(),
        };
        let derivation = DerivationTree {
            triple: triple("a", "controls", "c"),
            rule: Some("rule-b"),
            premises: vec![
                DerivationTree {
                    triple: triple("a", "controls", "b"),
                    rule: Some("rule-a"),
                    premises: vec![asserted(triple("a", "owns", "b"))],
                },
                asserted(triple("b", "controls", "c")),
            ],
        };
        let step = PathStep {
            subject: format!("<{EX}a>"),
            predicate: format!("<{EX}controls>"),
            object: format!("<{EX}c>"),
            subject_label: "a".into(),
            object_label: "c".into(),
            attribution: 0.5,
            inferred: true,
            derivation: Some(derivation),
            triple: triple("a", "controls", "c"),
        };
        Explanation {
            entity: format!("<{EX}a>"),
            entity_label: "a".into(),
            model_id: "0123456789abcdef".into(),
            predicted: format!("{EX}HighRisk"),
            probability: 0.9,
            score: 0.9,
            method: "test".into(),
            paths: vec![ExplainedPath {
                rank: 1,
                attribution: 0.5,
                steps: vec![step],
                sparql: "ASK {}".into(),
            }],
            spans: Vec::new(),
        }
    }

    #[test]
    fn turtle_is_prov_o_with_every_premise_a_statement_and_labels_as_iris() {
        let text = turtle(&explanation()).unwrap();
        let triples: Vec<Triple> = RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(text.as_bytes())
            .map(|q| Triple::from(q.unwrap()))
            .collect();
        let objects = |s: &NamedNode, p: NamedNodeRef<'_>| -> Vec<Term> {
            triples
                .iter()
                .filter(|t| t.subject == NamedOrBlankNode::from(s.clone()) && t.predicate == p)
                .map(|t| t.object.clone())
                .collect()
        };
        let kgfuse = |local: &str| NamedNode::new(format!("{KGFUSE_NS}{local}")).unwrap();
        let predicted = kgfuse("predictedLabel");
        let label: Vec<&Triple> = triples
            .iter()
            .filter(|t| t.predicate == predicted)
            .collect();
        assert_eq!(label.len(), 1);
        assert_eq!(
            label[0].object,
            Term::from(iri("HighRisk")),
            "an IRI, as write-back has it"
        );
        // The step and each premise, at every depth, is an rdf:Statement.
        let statement = |node: &NamedNode| -> Triple {
            let one = |p| match objects(node, p).as_slice() {
                [t] => t.clone(),
                other => panic!("{node} {p}: {other:?}\n{text}"),
            };
            assert_eq!(one(rdf::TYPE), Term::from(rdf::STATEMENT.into_owned()));
            let node_of = |t: Term| match t {
                Term::NamedNode(n) => NamedOrBlankNode::from(n),
                other => panic!("{other}"),
            };
            let predicate = match one(rdf::PREDICATE) {
                Term::NamedNode(n) => n,
                other => panic!("{other}"),
            };
            Triple::new(node_of(one(rdf::SUBJECT)), predicate, one(rdf::OBJECT))
        };
        let premises_of = |node: &NamedNode| -> Vec<NamedNode> {
            objects(node, PROV_WAS_DERIVED_FROM)
                .into_iter()
                .map(|t| match t {
                    Term::NamedNode(n) => n,
                    other => panic!("a premise is a node, not {other}"),
                })
                .collect()
        };
        let rule = |node: &NamedNode| objects(node, kgfuse("derivedByRule").as_ref());
        let step = triples
            .iter()
            .find(|t| t.predicate == kgfuse("step"))
            .map(|t| match &t.object {
                Term::NamedNode(n) => n.clone(),
                other => panic!("{other}"),
            })
            .unwrap();
        assert_eq!(statement(&step), triple("a", "controls", "c"));
        assert_eq!(
            rule(&step),
            [Term::from(Literal::new_simple_literal("rule-b"))]
        );
        let mut first: Vec<(Triple, NamedNode)> = premises_of(&step)
            .into_iter()
            .map(|p| (statement(&p), p))
            .collect();
        first.sort_by_key(|(t, _)| t.to_string());
        let found: Vec<&Triple> = first.iter().map(|(t, _)| t).collect();
        assert_eq!(
            found,
            [&triple("a", "controls", "b"), &triple("b", "controls", "c")]
        );
        // The derived premise carries its own rule and premise; the asserted one none.
        let (derived, asserted) = (&first[0].1, &first[1].1);
        assert_eq!(
            rule(derived),
            [Term::from(Literal::new_simple_literal("rule-a"))]
        );
        let deeper = premises_of(derived);
        assert_eq!(deeper.len(), 1);
        assert_eq!(statement(&deeper[0]), triple("a", "owns", "b"));
        assert!(rule(asserted).is_empty() && premises_of(asserted).is_empty());
    }
}
