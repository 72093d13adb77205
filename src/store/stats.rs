//! `kgfuse stats`: what is in the store, computed with the `stats-*` named
//! queries so that users can run the same queries themselves.

use std::fmt;

use oxigraph::model::Term;

use super::named_queries::named_query;
use super::query::SparqlRunner;
use super::results::write_text_table;
use super::terms::display_term;
use super::Store;
use crate::error::Result;

/// Counts describing a store.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreStats {
    /// Quads stored (a triple in two graphs counts twice).
    pub quads: usize,
    /// Distinct triples in the union of all graphs.
    pub triples: u64,
    /// Distinct IRIs and blank nodes in subject position.
    pub entities: u64,
    /// Quads in the default graph.
    pub default_graph_quads: u64,
    /// Named graphs with their quad counts.
    pub graphs: Vec<(Term, u64)>,
    /// Classes with their distinct instance counts, largest first.
    pub classes: Vec<(Term, u64)>,
    /// Predicates with their usage counts, most used first.
    pub predicates: Vec<(Term, u64)>,
}

impl StoreStats {
    pub fn compute(store: &Store) -> Result<Self> {
        let runner = SparqlRunner::new(store);
        let counts = |name: &str| -> Result<Vec<(Term, u64)>> {
            let (_, rows) = runner.select(named_query(name)?.text, &[])?;
            Ok(rows
                .into_iter()
                .filter_map(|row| Some((row[0].clone()?, number(&row[1]))))
                .collect())
        };
        let (_, totals) = runner.select(named_query("stats-entities")?.text, &[])?;
        let (triples, entities) = totals
            .first()
            .map(|row| (number(&row[0]), number(&row[1])))
            .unwrap_or((0, 0));
        let quads = store.len()?;
        let graphs = counts("stats-graphs")?;
        let in_named: u64 = graphs.iter().map(|(_, n)| n).sum();
        Ok(Self {
            quads,
            triples,
            entities,
            default_graph_quads: (quads as u64).saturating_sub(in_named),
            graphs,
            classes: counts("stats-classes")?,
            predicates: counts("stats-predicates")?,
        })
    }
}

impl StoreStats {
    /// The counts as JSON, terms in N-Triples syntax.
    pub fn to_json(&self) -> serde_json::Value {
        let pairs = |rows: &[(Term, u64)]| -> serde_json::Value {
            rows.iter()
                .map(|(t, n)| serde_json::json!({ "term": t.to_string(), "count": n }))
                .collect()
        };
        serde_json::json!({
            "quads": self.quads,
            "triples": self.triples,
            "entities": self.entities,
            "default_graph_quads": self.default_graph_quads,
            "graphs": pairs(&self.graphs),
            "classes": pairs(&self.classes),
            "predicates": pairs(&self.predicates),
        })
    }
}

fn number(term: &Option<Term>) -> u64 {
    match term {
        Some(Term::Literal(l)) => l.value().parse().unwrap_or(0),
        _ => 0,
    }
}

impl fmt::Display for StoreStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "quads:          {}", self.quads)?;
        writeln!(
            f,
            "triples:        {} (distinct, union of all graphs)",
            self.triples
        )?;
        writeln!(f, "entities:       {}", self.entities)?;
        writeln!(f, "named graphs:   {}", self.graphs.len())?;
        writeln!(f, "classes:        {}", self.classes.len())?;
        writeln!(f, "predicates:     {}", self.predicates.len())?;
        let mut graphs = vec![("(default graph)".to_owned(), self.default_graph_quads)];
        graphs.extend(self.graphs.iter().map(|(g, n)| (display_term(g), *n)));
        for (title, rows) in [
            (["graph", "triples"], graphs),
            (["class", "instances"], labelled(&self.classes)),
            (["predicate", "triples"], labelled(&self.predicates)),
        ] {
            writeln!(f)?;
            let header = title.map(str::to_owned);
            let cells: Vec<Vec<String>> = rows
                .into_iter()
                .map(|(name, n)| vec![name, n.to_string()])
                .collect();
            let mut out = Vec::new();
            write_text_table(&header, &cells, &mut out).map_err(|_| fmt::Error)?;
            f.write_str(&String::from_utf8_lossy(&out))?;
        }
        Ok(())
    }
}

fn labelled(rows: &[(Term, u64)]) -> Vec<(String, u64)> {
    rows.iter().map(|(t, n)| (display_term(t), *n)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::format::{FileFormat, Syntax};
    use crate::store::load::LoadSource;
    use crate::store::{LoadOptions, Loader};
    use oxigraph::io::RdfFormat;

    #[test]
    fn counts_a_known_graph() {
        let store = Store::in_memory().unwrap();
        let data: &'static [u8] = b"@prefix ex: <http://example.com/> .
            ex:a a ex:Company ; ex:owns ex:b ; ex:name \"A\" .
            ex:b a ex:Company , ex:Bank .
            GRAPH ex:g { ex:a ex:owns ex:b . ex:c a ex:Person }";
        let source = LoadSource::Bytes {
            name: "test.trig".into(),
            data,
            format: FileFormat {
                syntax: Syntax::Rdf(RdfFormat::TriG),
                gzip: false,
            },
        };
        Loader::new(&store, LoadOptions::default())
            .load_sources(&[source])
            .unwrap();
        let stats = StoreStats::compute(&store).unwrap();
        assert_eq!(stats.quads, 7);
        assert_eq!(stats.triples, 6, "the owns triple is in two graphs");
        assert_eq!(stats.entities, 3);
        assert_eq!(stats.default_graph_quads, 5);
        assert_eq!(stats.graphs.len(), 1);
        let company = stats
            .classes
            .iter()
            .find(|(c, _)| c.to_string() == "<http://example.com/Company>")
            .unwrap();
        assert_eq!(company.1, 2);
        assert_eq!(stats.predicates[0].1, 4, "rdf:type is used 4 times");
    }
}
