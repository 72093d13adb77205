//! The SPARQL queries of `queries/`, compiled into the binary so that the
//! engine and `kgfuse query --named NAME` work from any directory.

use crate::error::{Error, Result};

/// A query from `queries/NAME.rq`.
#[derive(Debug, Clone, Copy)]
pub struct NamedQuery {
    pub name: &'static str,
    pub text: &'static str,
}

impl NamedQuery {
    /// The query's leading comment lines, without `#`.
    pub fn description(&self) -> String {
        self.text
            .lines()
            .take_while(|l| l.starts_with('#'))
            .map(|l| l.trim_start_matches('#').trim())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

macro_rules! named {
    ($($name:literal),* $(,)?) => {
        &[$(NamedQuery { name: $name, text: include_str!(concat!("../../queries/", $name, ".rq")) }),*]
    };
}

/// Every named query, sorted by name.
pub const NAMED_QUERIES: &[NamedQuery] = named![
    "fibo-classes",
    "high-risk-companies",
    "labels",
    "mentions",
    "ontology-terms",
    "ownership-chains",
    "stats-classes",
    "stats-entities",
    "stats-graphs",
    "stats-predicates",
    "subgraph",
];

/// Looks a named query up.
pub fn named_query(name: &str) -> Result<&'static NamedQuery> {
    let name = name.strip_suffix(".rq").unwrap_or(name);
    NAMED_QUERIES
        .iter()
        .find(|q| q.name == name)
        .ok_or_else(|| Error::UnknownNamedQuery {
            name: name.to_owned(),
            available: NAMED_QUERIES
                .iter()
                .map(|q| q.name)
                .collect::<Vec<_>>()
                .join(", "),
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{query::SparqlRunner, Store};

    #[test]
    fn every_named_query_parses() {
        let store = Store::in_memory().unwrap();
        let runner = SparqlRunner::new(&store);
        for query in NAMED_QUERIES {
            runner
                .query(query.text, &[])
                .unwrap_or_else(|e| panic!("queries/{}.rq: {e}", query.name));
            assert!(
                !query.description().is_empty(),
                "{} has no description",
                query.name
            );
        }
    }

    #[test]
    fn unknown_names_list_the_available_ones() {
        let error = named_query("nope").unwrap_err().to_string();
        assert!(error.contains("subgraph"), "{error}");
    }
}
