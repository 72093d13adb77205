//! Whole-graph operations for stages that own a named graph (the reasoner's
//! entailments): read everything except that graph, and replace its contents
//! atomically while writing only what changed.

use oxigraph::model::{
    GraphNameRef, NamedNodeRef, NamedOrBlankNode, Quad, QuadRef, Term, Triple, TripleRef,
};
use rayon::prelude::*;
use rustc_hash::FxHashSet;
use serde::Serialize;

use super::{BackendRef, SparqlRunner, Store};
use crate::error::{Error, Result};

/// What [`replace_graph`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphDiff {
    /// Triples written that the graph did not hold.
    pub added: usize,
    /// Triples the graph held that are gone.
    pub removed: usize,
    /// Triples the graph held and still holds (not rewritten).
    pub kept: usize,
    /// Triples not written because they mention a blank node that a remote
    /// store cannot be asked about by name (always 0 on the embedded store).
    pub left_out: usize,
}

impl GraphDiff {
    /// The graph's size afterwards.
    pub fn total(&self) -> usize {
        self.added + self.kept
    }
}

/// Fewer additions than this go through a transaction; more through SST
/// files (oxigraph's bulk loader), which is several times faster per quad
/// but costs a flush and a handful of files per call.
const BULK_ADDITIONS: usize = 10_000;

/// Every quad outside `graph`, graph by graph (default graph first), so
/// that the excluded graph is never read or decoded.
pub fn quads_outside<'a>(
    store: &'a Store,
    graph: NamedNodeRef<'a>,
) -> Result<Box<dyn Iterator<Item = Result<Quad>> + 'a>> {
    let inner = match store.backend() {
        BackendRef::Embedded(inner) => inner,
        BackendRef::Remote(remote) => return Ok(Box::new(remote.quads_outside(graph))),
    };
    let excluded = NamedOrBlankNode::from(graph);
    let mut graphs = vec![None];
    for name in inner.named_graphs() {
        let name = name?;
        if name != excluded {
            graphs.push(Some(name));
        }
    }
    Ok(Box::new(graphs.into_iter().flat_map(move |name| {
        let name = match &name {
            None => GraphNameRef::DefaultGraph,
            Some(n) => n.as_ref().into(),
        };
        inner
            .quads_for_pattern(None, None, None, Some(name))
            .map(|q| q.map_err(Into::into))
    })))
}

/// Makes `graph` hold exactly `triples` (duplicates are fine), in one atomic
/// write of the difference: quads already there are left alone, so a
/// re-run with the same triples writes nothing. A failure or a crash leaves
/// the old contents or the new ones, never a mix: removals and additions go
/// into one transaction; when there is nothing to remove, the additions are
/// one bulk load, which RocksDB ingests atomically.
pub fn replace_graph<'a>(
    store: &Store,
    graph: NamedNodeRef<'_>,
    triples: impl IntoIterator<Item = TripleRef<'a>>,
) -> Result<GraphDiff> {
    let wanted: FxHashSet<TripleRef<'a>> = triples.into_iter().collect();
    let inner = match store.backend() {
        BackendRef::Embedded(inner) => inner,
        BackendRef::Remote(remote) => {
            let wanted: Vec<Triple> = wanted.iter().map(|t| t.into_owned()).collect();
            let (added, removed, kept, left_out) = remote.replace_graph(graph, &wanted)?;
            return Ok(GraphDiff {
                added,
                removed,
                kept,
                left_out,
            });
        }
    };
    // Membership tests and a count run on encoded terms; reading the graph
    // itself would decode every term (a lookup each), several times slower.
    // The lookups run on every core (we hold the store's write lock, so
    // nothing changes between them).
    let old_len = graph_len(store, graph)?;
    let candidates: Vec<QuadRef<'_>> = wanted.iter().map(|t| t.in_graph(graph)).collect();
    let added: Vec<QuadRef<'_>> = if old_len == 0 {
        candidates
    } else {
        let present = candidates
            .par_iter()
            .map(|&quad| inner.contains(quad))
            .collect::<std::result::Result<Vec<bool>, _>>()?;
        candidates
            .into_iter()
            .zip(present)
            .filter_map(|(quad, present)| (!present).then_some(quad))
            .collect()
    };
    let mut transaction = inner.start_transaction()?;
    let kept = wanted.len() - added.len();
    let stale = if old_len > kept {
        stale_quads(&transaction, graph, &wanted)?
    } else {
        Vec::new()
    };
    let diff = GraphDiff {
        added: added.len(),
        removed: stale.len(),
        kept,
        left_out: 0,
    };
    if stale.is_empty() && added.len() >= BULK_ADDITIONS {
        drop(transaction);
        // The loader cuts its input into batches of `megabytes * 1000 /
        // threads` quads, one thread each: this size gives every thread one.
        let mut loader = inner
            .bulk_loader()
            .with_max_memory_size_in_megabytes(added.len() / 1000 + 1);
        loader.load_quads(added.iter().map(|q| q.into_owned()))?;
        loader.commit()?;
    } else if !stale.is_empty() || !added.is_empty() {
        for quad in &stale {
            transaction.remove(quad);
        }
        for quad in added {
            transaction.insert(quad);
        }
        transaction.commit()?;
    }
    Ok(diff)
}

/// The quads of `graph` whose triple is not `wanted`.
fn stale_quads(
    transaction: &oxigraph::store::Transaction<'_>,
    graph: NamedNodeRef<'_>,
    wanted: &FxHashSet<TripleRef<'_>>,
) -> Result<Vec<Quad>> {
    let mut stale = Vec::new();
    for quad in transaction.quads_for_pattern(None, None, None, Some(graph.into())) {
        let quad = quad?;
        let triple = TripleRef::new(
            quad.subject.as_ref(),
            quad.predicate.as_ref(),
            quad.object.as_ref(),
        );
        if !wanted.contains(&triple) {
            stale.push(quad);
        }
    }
    Ok(stale)
}

/// The number of quads in `graph`, counted without decoding them.
fn graph_len(store: &Store, graph: NamedNodeRef<'_>) -> Result<usize> {
    let query = format!("SELECT (COUNT(*) AS ?n) WHERE {{ GRAPH {graph} {{ ?s ?p ?o }} }}");
    let rows = SparqlRunner::new(store).select_first(&query, &[], 1)?;
    match rows.first().and_then(|row| row.first()) {
        Some(Some(Term::Literal(n))) => n
            .value()
            .parse()
            .map_err(|_| Error::SparqlEvaluation(format!("COUNT returned {n}"))),
        other => Err(Error::SparqlEvaluation(format!("COUNT returned {other:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use oxigraph::model::{Literal, NamedNode};

    use super::*;

    const G: NamedNodeRef<'static> = NamedNodeRef::new_unchecked("http://example.com/g");

    fn triple(s: usize, o: usize) -> Triple {
        Triple::new(
            NamedNode::new_unchecked(format!("http://example.com/s{s}")),
            NamedNode::new_unchecked("http://example.com/p"),
            Literal::from(o as i64),
        )
    }

    fn contents(store: &Store, graph: NamedNodeRef<'_>) -> BTreeSet<String> {
        store
            .quads_matching(None, None, None, Some(graph.into()))
            .map(|q| Triple::from(q.unwrap()).to_string())
            .collect()
    }

    fn strings(triples: &[Triple]) -> BTreeSet<String> {
        triples.iter().map(ToString::to_string).collect()
    }

    fn replace(store: &Store, triples: &[Triple]) -> GraphDiff {
        replace_graph(store, G, triples.iter().map(Triple::as_ref)).unwrap()
    }

    /// Each write path (bulk, transaction, nothing) on a RocksDB store: the
    /// graph ends up holding exactly the new triples, other graphs untouched.
    #[test]
    fn replace_writes_only_the_difference() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let other = NamedNodeRef::new_unchecked("http://example.com/other");
        store.insert_quads([triple(0, 0).in_graph(other)]).unwrap();
        let first: Vec<Triple> = (0..2 * BULK_ADDITIONS).map(|i| triple(i, i)).collect();
        assert_eq!(
            replace(&store, &first),
            GraphDiff {
                added: first.len(),
                removed: 0,
                kept: 0,
                left_out: 0
            }
        );
        assert_eq!(contents(&store, G), strings(&first));

        // The same triples (some twice): nothing to write.
        let mut again = first.clone();
        again.extend_from_slice(&first[..10]);
        assert_eq!(
            replace(&store, &again),
            GraphDiff {
                added: 0,
                removed: 0,
                kept: first.len(),
                left_out: 0
            }
        );

        // Drop the first 100, add BULK_ADDITIONS new ones: one transaction.
        let second: Vec<Triple> = (100..3 * BULK_ADDITIONS).map(|i| triple(i, i)).collect();
        assert_eq!(
            replace(&store, &second),
            GraphDiff {
                added: BULK_ADDITIONS,
                removed: 100,
                kept: first.len() - 100,
                left_out: 0
            }
        );
        assert_eq!(contents(&store, G), strings(&second));

        // Only additions, a few: a transaction too.
        let mut third = second.clone();
        third.push(triple(0, 1));
        assert_eq!(replace(&store, &third).added, 1);
        assert_eq!(contents(&store, G), strings(&third));

        assert_eq!(replace(&store, &[]).removed, third.len());
        assert!(contents(&store, G).is_empty());
        assert_eq!(contents(&store, other), strings(&[triple(0, 0)]));
    }

    #[test]
    fn quads_outside_skips_one_graph() {
        let store = Store::in_memory().unwrap();
        let other = NamedNodeRef::new_unchecked("http://example.com/other");
        for (i, graph) in [GraphNameRef::DefaultGraph, G.into(), other.into()]
            .into_iter()
            .enumerate()
        {
            let t = triple(i, i);
            store
                .insert_quads([
                    QuadRef::new(&t.subject, &t.predicate, &t.object, graph).into_owned()
                ])
                .unwrap();
        }
        let read: BTreeSet<String> = quads_outside(&store, G)
            .unwrap()
            .map(|q| Triple::from(q.unwrap()).to_string())
            .collect();
        assert_eq!(read, strings(&[triple(0, 0), triple(2, 2)]));
    }
}
