//! Whole-graph operations for stages that own a named graph (the reasoner's
//! entailments): read everything except that graph, and replace its contents
//! atomically while writing only what changed.

use oxigraph::model::{GraphNameRef, NamedNodeRef, NamedOrBlankNode, Quad, QuadRef, TripleRef};
use rustc_hash::FxHashSet;
use serde::Serialize;

use super::Store;
use crate::error::Result;

/// What [`replace_graph`] changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GraphDiff {
    /// Triples written that the graph did not hold.
    pub added: usize,
    /// Triples the graph held that are gone.
    pub removed: usize,
    /// Triples the graph held and still holds (not rewritten).
    pub kept: usize,
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
) -> Result<impl Iterator<Item = Result<Quad>> + 'a> {
    let excluded = NamedOrBlankNode::from(graph);
    let mut graphs = vec![None];
    for name in store.inner.named_graphs() {
        let name = name?;
        if name != excluded {
            graphs.push(Some(name));
        }
    }
    Ok(graphs.into_iter().flat_map(move |name| {
        let name = match &name {
            None => GraphNameRef::DefaultGraph,
            Some(n) => n.as_ref().into(),
        };
        store
            .inner
            .quads_for_pattern(None, None, None, Some(name))
            .map(|q| q.map_err(Into::into))
    }))
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
    let old = store
        .inner
        .quads_for_pattern(None, None, None, Some(graph.into()))
        .collect::<std::result::Result<Vec<Quad>, _>>()?;
    fn as_triple(q: &Quad) -> TripleRef<'_> {
        TripleRef::new(q.subject.as_ref(), q.predicate.as_ref(), q.object.as_ref())
    }
    let old_set: FxHashSet<TripleRef<'_>> = old.iter().map(as_triple).collect();
    let new_set: FxHashSet<TripleRef<'_>> = triples.into_iter().collect();
    let stale: Vec<&Quad> = old
        .iter()
        .filter(|q| !new_set.contains(&as_triple(q)))
        .collect();
    let added: Vec<QuadRef<'_>> = new_set
        .iter()
        .filter(|t| !old_set.contains(*t))
        .map(|t| t.in_graph(graph))
        .collect();
    let diff = GraphDiff {
        added: added.len(),
        removed: stale.len(),
        kept: old.len() - stale.len(),
    };
    if stale.is_empty() && added.len() >= BULK_ADDITIONS {
        let mut loader = store.inner.bulk_loader();
        loader.load_quads(added.iter().map(|q| q.into_owned()))?;
        loader.commit()?;
    } else if !stale.is_empty() || !added.is_empty() {
        let mut transaction = store.inner.start_transaction()?;
        for quad in stale {
            transaction.remove(quad);
        }
        for quad in added {
            transaction.insert(quad);
        }
        transaction.commit()?;
    }
    Ok(diff)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use oxigraph::model::{Literal, NamedNode, Triple};

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
            .inner
            .quads_for_pattern(None, None, None, Some(graph.into()))
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
        store
            .inner
            .insert(triple(0, 0).as_ref().in_graph(other))
            .unwrap();
        let first: Vec<Triple> = (0..2 * BULK_ADDITIONS).map(|i| triple(i, i)).collect();
        assert_eq!(
            replace(&store, &first),
            GraphDiff {
                added: first.len(),
                removed: 0,
                kept: 0
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
                kept: first.len()
            }
        );

        // Drop the first 100, add BULK_ADDITIONS new ones: one transaction.
        let second: Vec<Triple> = (100..3 * BULK_ADDITIONS).map(|i| triple(i, i)).collect();
        assert_eq!(
            replace(&store, &second),
            GraphDiff {
                added: BULK_ADDITIONS,
                removed: 100,
                kept: first.len() - 100
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
                .inner
                .insert(QuadRef::new(&t.subject, &t.predicate, &t.object, graph))
                .unwrap();
        }
        let read: BTreeSet<String> = quads_outside(&store, G)
            .unwrap()
            .map(|q| Triple::from(q.unwrap()).to_string())
            .collect();
        assert_eq!(read, strings(&[triple(0, 0), triple(2, 2)]));
    }
}
