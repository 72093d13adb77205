//! The embedded defaults: the project's ontology and sample data, compiled
//! into the binary so that `kgfuse quickstart` works on a fresh machine from
//! any directory.

use oxigraph::io::RdfFormat;
use oxigraph::model::NamedNode;

use crate::store::format::{FileFormat, Syntax};
use crate::store::load::LoadSource;
use crate::store::terms::GRAPH_NS;

/// `ontologies/risk.ttl`.
pub const RISK_ONTOLOGY: &[u8] = include_bytes!("../ontologies/risk.ttl");
/// `data/finance.ttl`, generated with `kgfuse generate finance --companies 600 --seed 42`.
pub const FINANCE_SAMPLE: &[u8] = include_bytes!("../data/finance.ttl");

/// Graph that holds the ontology after `quickstart`.
pub fn ontology_graph() -> NamedNode {
    NamedNode::new_unchecked(format!("{GRAPH_NS}ontology"))
}

/// Graph that holds the sample data after `quickstart`.
pub fn sample_graph() -> NamedNode {
    NamedNode::new_unchecked(format!("{GRAPH_NS}sample"))
}

/// Graph that `quickstart --fibo` loads FIBO into, and the one the
/// `fibo-classes` query leaves out.
pub fn fibo_graph() -> NamedNode {
    NamedNode::new_unchecked(format!("{GRAPH_NS}fibo"))
}

fn turtle(name: &str, data: &'static [u8]) -> LoadSource {
    LoadSource::Bytes {
        name: name.to_owned(),
        data,
        format: FileFormat {
            syntax: Syntax::Rdf(RdfFormat::Turtle),
            gzip: false,
        },
    }
}

/// The ontology as a load source.
pub fn ontology_source() -> LoadSource {
    turtle("ontologies/risk.ttl", RISK_ONTOLOGY)
}

/// The sample data as a load source.
pub fn sample_source() -> LoadSource {
    turtle("data/finance.ttl", FINANCE_SAMPLE)
}
