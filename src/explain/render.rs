//! Explanations as JSON, Graphviz DOT, Turtle (PROV-O, loadable back into
//! the store) and one self-contained HTML page.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::vocab::{rdf, xsd};
use oxigraph::model::{Literal, NamedNode, NamedNodeRef, NamedOrBlankNode, Term, Triple};
use sha2::{Digest, Sha256};

use super::{Claim, EvidencePath, Explanation, QueryForm};
use crate::error::{Error, Result};
use crate::fusion::pipeline::label_term;
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

    /// The HTTP content type of a rendered explanation.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Dot => "text/vnd.graphviz",
            Self::Turtle => "text/turtle",
            Self::Html => "text/html; charset=utf-8",
        }
    }
}

pub fn render(explanation: &Explanation, format: ExplanationFormat) -> Result<String> {
    match format {
        ExplanationFormat::Json => Ok(serde_json::to_string_pretty(explanation)
            .expect("an explanation is plain data that serialises")),
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
    triples.push(Triple::new(
        statement.clone(),
        kgfuse("derivedByRule"),
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

fn kgfuse(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{KGFUSE_NS}{local}"))
}

fn prov(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("http://www.w3.org/ns/prov#{local}"))
}

fn double(v: f64) -> Term {
    Literal::new_typed_literal(format!("{v}"), xsd::DOUBLE).into()
}

/// The explanation as PROV-O: a `prov:Entity` attributed to the model,
/// with its claim, its paths (each step an `rdf:Statement` with the
/// premises it was derived from) and its text spans.
fn turtle(e: &Explanation) -> Result<String> {
    // The claim is part of the name: one entity can be explained as the
    // answer to several questions.
    let digest = Sha256::digest(format!("{} {}", e.entity, e.claim.statement()).as_bytes());
    let hash: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    let base = format!("urn:kgfuse:explanation:{}:{hash}", e.model_id);
    let root = NamedNode::new_unchecked(&base);
    let mut triples = claim_triples(e, &root);
    for path in &e.paths {
        path_triples(path, &root, &base, &mut triples);
    }
    for (i, span) in e.spans.iter().enumerate() {
        let s = NamedNode::new_unchecked(format!("{base}#span{}", i + 1));
        triples.extend([
            Triple::new(root.clone(), kgfuse("span"), s.clone()),
            Triple::new(s.clone(), rdf::TYPE, kgfuse("TextSpan")),
            Triple::new(
                s.clone(),
                kgfuse("text"),
                Literal::new_simple_literal(&span.text),
            ),
            Triple::new(
                s.clone(),
                kgfuse("startChar"),
                Literal::from(span.start as i64),
            ),
            Triple::new(s.clone(), kgfuse("endChar"), Literal::from(span.end as i64)),
            Triple::new(
                s.clone(),
                kgfuse("source"),
                Literal::new_simple_literal(&span.source),
            ),
        ]);
        if let Some(a) = span.attribution {
            triples.push(Triple::new(s, kgfuse("attribution"), double(a)));
        }
    }
    let serialize = || -> std::io::Result<Vec<u8>> {
        let mut serializer = RdfSerializer::from_format(RdfFormat::Turtle)
            .with_prefix("kgfuse", KGFUSE_NS)
            .and_then(|s| s.with_prefix("prov", "http://www.w3.org/ns/prov#"))
            .map_err(std::io::Error::other)?
            .for_writer(Vec::new());
        for t in &triples {
            serializer.serialize_triple(t)?;
        }
        serializer.finish()
    };
    let bytes =
        serialize().map_err(|e| Error::UnsupportedOutput(format!("explanation as Turtle: {e}")))?;
    Ok(String::from_utf8(bytes).expect("Turtle is written as UTF-8"))
}

/// The explanation node, its claim and the model it is attributed to.
fn claim_triples(e: &Explanation, root: &NamedNode) -> Vec<Triple> {
    let model = NamedNode::new_unchecked(format!("urn:kgfuse:model:{}", e.model_id));
    let mut triples = vec![
        Triple::new(root.clone(), rdf::TYPE, kgfuse("Explanation")),
        Triple::new(root.clone(), rdf::TYPE, prov("Entity")),
        Triple::new(
            root.clone(),
            kgfuse("explains"),
            Term::from(parse_node(&e.entity)),
        ),
        Triple::new(
            root.clone(),
            kgfuse("attributionMethod"),
            Literal::new_simple_literal(&e.method),
        ),
        Triple::new(root.clone(), prov("wasAttributedTo"), model.clone()),
        Triple::new(model, rdf::TYPE, prov("SoftwareAgent")),
    ];
    match &e.claim {
        Claim::Prediction {
            label,
            probability,
            score,
        } => triples.extend([
            Triple::new(root.clone(), kgfuse("predictedLabel"), label_term(label)),
            Triple::new(root.clone(), kgfuse("probability"), double(*probability)),
            Triple::new(root.clone(), kgfuse("score"), double(*score)),
        ]),
        Claim::Answer { question, score } => triples.extend([
            Triple::new(
                root.clone(),
                kgfuse("answers"),
                Literal::new_simple_literal(question),
            ),
            Triple::new(root.clone(), kgfuse("score"), double(*score)),
        ]),
    }
    triples
}

/// A path node with its check query and its steps as `rdf:Statement`s,
/// each with the premises of its derivation.
fn path_triples(path: &EvidencePath, root: &NamedNode, base: &str, triples: &mut Vec<Triple>) {
    let p = NamedNode::new_unchecked(format!("{base}#path{}", path.rank));
    let form = match path.check.form {
        QueryForm::Ask => "ASK",
        QueryForm::Select => "SELECT",
    };
    triples.extend([
        Triple::new(root.clone(), kgfuse("path"), p.clone()),
        Triple::new(p.clone(), rdf::TYPE, kgfuse("ExplanationPath")),
        Triple::new(p.clone(), kgfuse("rank"), Literal::from(path.rank as i64)),
        Triple::new(p.clone(), kgfuse("attribution"), double(path.attribution)),
        Triple::new(
            p.clone(),
            kgfuse("sparql"),
            Literal::new_simple_literal(&path.check.sparql),
        ),
        Triple::new(
            p.clone(),
            kgfuse("queryForm"),
            Literal::new_simple_literal(form),
        ),
    ]);
    for (i, step) in path.steps.iter().enumerate() {
        let s = NamedNode::new_unchecked(format!("{base}#path{}-step{}", path.rank, i + 1));
        let predicate = step.predicate.trim_start_matches('<').trim_end_matches('>');
        triples.extend([
            Triple::new(p.clone(), kgfuse("step"), s.clone()),
            Triple::new(s.clone(), rdf::TYPE, rdf::STATEMENT),
            Triple::new(
                s.clone(),
                rdf::SUBJECT,
                Term::from(parse_node(&step.subject)),
            ),
            Triple::new(
                s.clone(),
                rdf::PREDICATE,
                NamedNode::new_unchecked(predicate),
            ),
            Triple::new(s.clone(), rdf::OBJECT, Term::from(parse_node(&step.object))),
            Triple::new(s.clone(), kgfuse("position"), Literal::from((i + 1) as i64)),
            Triple::new(s.clone(), kgfuse("attribution"), double(step.attribution)),
            Triple::new(s.clone(), kgfuse("inferred"), Literal::from(step.inferred)),
        ]);
        if let Some(derivation) = &step.derivation {
            let mut premises = 0;
            derivation_triples(&s, derivation, s.as_str(), &mut premises, triples);
        }
    }
}

fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The paths as one SVG: columns by hop from the entity, lines from box
/// edge to box edge, each edge's label (relation and attribution) on a
/// white box at its middle, drawn above the lines.
fn svg_drawing(e: &Explanation) -> String {
    let nodes = path_nodes(e);
    let mut columns: BTreeMap<usize, Vec<&String>> = BTreeMap::new();
    for (node, (_, depth)) in &nodes {
        columns.entry(*depth).or_default().push(node);
    }
    let rows = columns.values().map(Vec::len).max().unwrap_or(1);
    let step = BOX_WIDTH + COLUMN_GAP;
    let (width, height) = (step * columns.len().max(1) + 40, ROW_HEIGHT * rows + 40);
    let mut at: BTreeMap<&String, (usize, usize)> = BTreeMap::new();
    for (depth, list) in &columns {
        // Each column centred on the tallest one.
        let top = 20 + ROW_HEIGHT * (rows - list.len()) / 2;
        for (i, node) in list.iter().enumerate() {
            at.insert(node, (20 + step * depth, top + ROW_HEIGHT * i));
        }
    }
    let mut lines = String::new();
    let mut labels = String::new();
    for ((s, p, o), (attribution, inferred)) in path_edges(e) {
        let (Some(&(x1, y1)), Some(&(x2, y2))) = (at.get(&s), at.get(&o)) else {
            continue;
        };
        // From the facing sides of the two boxes (an edge may point back).
        let (from, to) = if x1 <= x2 {
            (x1 + BOX_WIDTH, x2)
        } else {
            (x1, x2 + BOX_WIDTH)
        };
        let (y1, y2) = (y1 + 15, y2 + 15);
        let colour = if attribution >= 0.0 { "#2a7" } else { "#c33" };
        let dash = if inferred {
            " stroke-dasharray=\"6 4\""
        } else {
            ""
        };
        let _ = writeln!(
            lines,
            "<line x1=\"{from}\" y1=\"{y1}\" x2=\"{to}\" y2=\"{y2}\" stroke=\"{colour}\" stroke-width=\"{:.1}\"{dash}/>",
            1.0 + 5.0 * attribution.abs().min(1.0)
        );
        let full = format!("{} ({attribution:+.3})", short(&p));
        let shown: String = if full.chars().count() > LABEL_CHARS {
            full.chars().take(LABEL_CHARS - 1).chain(['…']).collect()
        } else {
            full.clone()
        };
        let (mx, my) = ((from + to) / 2, (y1 + y2) / 2);
        let half = 3 * shown.chars().count() + 4;
        let _ = writeln!(
            labels,
            "<g><title>{}</title><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"15\" rx=\"3\" fill=\"#fff\" opacity=\"0.9\"/><text x=\"{mx}\" y=\"{}\" text-anchor=\"middle\" font-size=\"10.5\" fill=\"#444\">{}</text></g>",
            escape_html(&full),
            mx.saturating_sub(half),
            my.saturating_sub(11),
            2 * half,
            my,
            escape_html(&shown)
        );
    }
    let mut boxes = String::new();
    for (node, (label, _)) in &nodes {
        let (x, y) = at[node];
        let fill = if *node == e.entity {
            "#ffe9a8"
        } else {
            "#eef3fb"
        };
        let _ = writeln!(
            boxes,
            "<g class=\"node\"><title>{}</title><rect x=\"{x}\" y=\"{y}\" width=\"{BOX_WIDTH}\" height=\"30\" rx=\"8\" fill=\"{fill}\" stroke=\"#678\"/><text x=\"{}\" y=\"{}\">{}</text></g>",
            escape_html(&format!("{label}\n{node}")),
            x + 8,
            y + 19,
            escape_html(&label.chars().take(LABEL_CHARS).collect::<String>())
        );
    }
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"sans-serif\" font-size=\"12\">\n{lines}{boxes}{labels}</svg>"
    )
}

/// Layout of the HTML drawing: node boxes in columns by hop, with room
/// between columns for the edge labels.
const BOX_WIDTH: usize = 190;
const COLUMN_GAP: usize = 190;
const ROW_HEIGHT: usize = 64;
const LABEL_CHARS: usize = 28;

/// One page: the paths drawn as an SVG graph (columns by hop, each edge once,
/// its label on a box in the gap between the columns), the paths as
/// readable lines (identical ones merged) with the query that checks each,
/// and the text spans highlighted.
fn html(e: &Explanation) -> String {
    let svg = svg_drawing(e);
    // Paths through different nodes of the same labels read alike: list
    // them once, with the ranks of the others.
    let mut rows: Vec<(String, &EvidencePath, Vec<usize>)> = Vec::new();
    for p in &e.paths {
        let text = p
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
            .collect::<Vec<_>>()
            .join("<br>");
        match rows.iter_mut().find(|(t, _, _)| *t == text) {
            Some((_, _, others)) => others.push(p.rank),
            None => rows.push((text, p, Vec::new())),
        }
    }
    let mut paths = String::new();
    for (text, p, others) in rows {
        let form = match p.check.form {
            QueryForm::Ask => "ASK",
            QueryForm::Select => "SELECT",
        };
        let also = match others.is_empty() {
            true => String::new(),
            false => {
                let ranks: Vec<String> = others.iter().map(usize::to_string).collect();
                format!(
                    "<br><small>(also paths {}, through other nodes of these labels)</small>",
                    ranks.join(", ")
                )
            }
        };
        let _ = writeln!(
            paths,
            "<tr><td>{}</td><td>{:+.4}</td><td class=\"path\">{text}{also}<details><summary>{form} query that checks it</summary><pre>{}</pre></details></td></tr>",
            p.rank,
            p.attribution,
            escape_html(&p.check.sparql)
        );
    }
    let mut spans = String::new();
    for s in &e.spans {
        let chars: Vec<char> = s.text.chars().collect();
        let (a, b) = (s.start.min(chars.len()), s.end.min(chars.len()));
        let piece = |r: std::ops::Range<usize>| escape_html(&chars[r].iter().collect::<String>());
        let _ = writeln!(
            spans,
            "<li><span class=\"score\">{}</span> <small>{}</small><br>{}<mark>{}</mark>{}</li>",
            s.attribution.map_or(String::new(), |a| format!("{a:+.4}")),
            escape_html(&s.source),
            piece(0..a),
            piece(a..b),
            piece(b..chars.len())
        );
    }
    let claim = match &e.claim {
        Claim::Prediction {
            label,
            probability,
            score,
        } => format!(
            "Predicted <b>{}</b> with probability {probability:.3} (score {score:.3})",
            escape_html(&short(label))
        ),
        Claim::Answer { question, score } => format!(
            "Answer to <q>{}</q> with score {score:.3}",
            escape_html(question)
        ),
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Explanation: {label}</title>\n<style>body{{font-family:sans-serif;margin:2em;max-width:1100px}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}td.path{{min-width:36em}}pre{{margin:0;font-size:11px;white-space:pre-wrap;word-break:break-all}}summary{{font-size:11px;color:#567;cursor:pointer}}svg{{max-width:100%;height:auto}}mark{{background:#ffe08a}}.score{{font-family:monospace}}</style></head>\n<body>\n<h1>{label}</h1>\n<p>{claim} by model <code>{model}</code>.<br>Attribution: {method}.</p>\n<h2>Paths</h2>\n{svg}\n<table><tr><th>#</th><th>attribution</th><th>path</th></tr>\n{paths}</table>\n<h2>Text spans</h2>\n<ol>\n{spans}</ol>\n</body></html>\n",
        label = escape_html(&e.entity_label),
        model = e.model_id,
        method = escape_html(&e.method),
    )
}

#[cfg(test)]
mod tests {
    use oxigraph::io::RdfParser;

    use super::*;
    use crate::explain::{CheckQuery, PathStep, TextSpan};

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
        let asserted = DerivationTree::asserted;
        let derivation = DerivationTree::derived(
            triple("a", "controls", "c"),
            Some("rule-b"),
            vec![
                DerivationTree::derived(
                    triple("a", "controls", "b"),
                    Some("rule-a"),
                    vec![asserted(triple("a", "owns", "b"))],
                ),
                asserted(triple("b", "controls", "c")),
            ],
        );
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
            claim: Claim::Prediction {
                label: format!("{EX}HighRisk"),
                probability: 0.9,
                score: 0.9,
            },
            method: "test".into(),
            paths: vec![EvidencePath {
                rank: 1,
                attribution: 0.5,
                steps: vec![step],
                check: CheckQuery {
                    form: QueryForm::Ask,
                    sparql: format!("ASK {{ <{EX}a> <{EX}controls> <{EX}c> }}"),
                },
            }],
            spans: vec![TextSpan {
                text: "Fined <twice> for fraud".into(),
                start: 6,
                end: 13,
                source: "description of the entity".into(),
                attribution: Some(0.25),
            }],
        }
    }

    /// The same paths as the answer to a question, its mention unweighed.
    fn answer() -> Explanation {
        let mut e = explanation();
        e.claim = Claim::Answer {
            question: "who controls [c]?".into(),
            score: 0.8,
        };
        e.paths[0].check.form = QueryForm::Select;
        e.spans = vec![TextSpan {
            text: "who controls [c]?".into(),
            start: 14,
            end: 15,
            source: "mention of c".into(),
            attribution: None,
        }];
        e
    }

    fn parse_turtle(text: &str) -> Vec<Triple> {
        RdfParser::from_format(RdfFormat::Turtle)
            .for_slice(text.as_bytes())
            .map(|q| Triple::from(q.unwrap()))
            .collect()
    }

    #[test]
    fn json_keeps_the_claim_the_check_query_and_unweighed_spans() {
        let json: serde_json::Value =
            serde_json::from_str(&render(&answer(), ExplanationFormat::Json).unwrap()).unwrap();
        assert_eq!(json["claim"]["kind"], "answer");
        assert_eq!(json["claim"]["question"], "who controls [c]?");
        assert_eq!(json["paths"][0]["check"]["form"], "SELECT");
        assert_eq!(json["paths"][0]["steps"][0]["derivation"]["rule"], "rule-b");
        assert!(json["spans"][0]["attribution"].is_null(), "{json}");
    }

    #[test]
    fn dot_draws_each_edge_once_with_inferred_ones_dashed() {
        let mut e = explanation();
        let again = e.paths[0].clone();
        e.paths.push(EvidencePath { rank: 2, ..again });
        let dot = render(&e, ExplanationFormat::Dot).unwrap();
        assert!(dot.starts_with("digraph explanation {"), "{dot}");
        let edges: Vec<&str> = dot.lines().filter(|l| l.contains("->")).collect();
        assert_eq!(edges.len(), 1, "one edge shared by two paths: {dot}");
        assert!(
            edges[0].contains("style=dashed") && edges[0].contains("+0.500"),
            "{dot}"
        );
        assert_eq!(
            dot.matches("[label=").count(),
            3,
            "two nodes and the edge: {dot}"
        );
    }

    #[test]
    fn html_escapes_text_and_marks_the_span() {
        let html = render(&explanation(), ExplanationFormat::Html).unwrap();
        assert!(html.contains("<mark>&lt;twice&gt;</mark>"), "{html}");
        assert!(!html.contains("<twice>"), "unescaped text: {html}");
        assert!(html.contains("Predicted <b>"), "{html}");
        // A path through other nodes of the same labels is listed once;
        // each path's query sits with it, folded.
        let mut twice = explanation();
        let again = twice.paths[0].clone();
        twice.paths.push(EvidencePath { rank: 2, ..again });
        let page = render(&twice, ExplanationFormat::Html).unwrap();
        assert!(page.contains("also paths 2"), "{page}");
        assert_eq!(page.matches("<details>").count(), 1, "{page}");
        assert!(page.contains("viewBox=\""), "the drawing scales: {page}");
        let answer = render(&answer(), ExplanationFormat::Html).unwrap();
        assert!(
            answer.contains("Answer to <q>who controls [c]?</q>"),
            "{answer}"
        );
    }

    #[test]
    fn turtle_of_an_answer_names_the_question_and_the_select() {
        let text = turtle(&answer()).unwrap();
        let triples = parse_turtle(&text);
        let object_of = |local: &str| -> Vec<Term> {
            let p = NamedNode::new(format!("{KGFUSE_NS}{local}")).unwrap();
            triples
                .iter()
                .filter(|t| t.predicate == p)
                .map(|t| t.object.clone())
                .collect()
        };
        assert_eq!(
            object_of("answers"),
            [Term::from(Literal::new_simple_literal("who controls [c]?"))]
        );
        assert_eq!(
            object_of("queryForm"),
            [Term::from(Literal::new_simple_literal("SELECT"))]
        );
        assert!(object_of("predictedLabel").is_empty(), "{text}");
        let span_attributions = triples
            .iter()
            .filter(|t| {
                t.subject.to_string().contains("#span")
                    && t.predicate.as_str().ends_with("attribution")
            })
            .count();
        assert_eq!(
            span_attributions, 0,
            "an unweighed span has no attribution: {text}"
        );
    }

    #[test]
    fn turtle_is_prov_o_with_every_premise_a_statement_and_labels_as_iris() {
        let text = turtle(&explanation()).unwrap();
        let triples = parse_turtle(&text);
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
