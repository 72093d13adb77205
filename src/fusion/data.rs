//! What the fused model reads about each target entity, gathered from a
//! store: the graph (asserted plus inferred triples, the label property left
//! out), inductive node features, and the texts and character spans attached
//! to every target. Vocabularies (relations, node features, classes) are
//! fixed when a model is trained and reused on any store that shares the
//! schema, so a model trained on one world scores another.

use std::collections::{BTreeMap, HashMap, HashSet};

use oxigraph::model::vocab::{rdf, rdfs};
use oxigraph::model::{NamedNode, NamedOrBlankNode, Term};
use serde::{Deserialize, Serialize};

use super::literals::{LiteralColumns, TypedValue};
use super::paths::{PathCounts, RelationPaths};
use crate::error::{Error, Result, Setting};
use crate::graph::{labelled_entities, GraphView, GraphViewOptions};
use crate::store::named_queries::named_query;
use crate::store::terms::KGFUSE_NS;
use crate::store::{SparqlRunner, Store};

/// Literals at most this long become node features (codes, tiers, sectors);
/// longer ones are text for BERT.
const SHORT_LITERAL: usize = 40;
/// Literals at least this long on a neighbour (titles, abstracts, articles)
/// join a target's texts.
const LONG_LITERAL: usize = 40;
/// A node feature must occur on this many nodes of the training store
/// (unique names would only let the model memorise).
const MIN_FEATURE_COUNT: usize = 2;
/// A string-valued predicate keeps its this many most frequent values as
/// node features; the rest share its "other" feature.
const MAX_CATEGORIES: usize = 32;
/// The value part of a predicate's "other" feature key.
const OTHER_VALUE: &str = "*other*";
/// IRIs that are the object of one relation from at least this many
/// subjects (jurisdictions, classes, research groups) get a feature of their
/// own: shared reference nodes whose identity carries meaning across stores.
const HUB_DEGREE: usize = 10;

/// Caps per target, so that hubs and prolific entities stay cheap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextLimits {
    pub own_literals: usize,
    pub mentions: usize,
    pub neighbour_texts: usize,
    /// Subgraph nodes a target's spans attend over.
    pub neighbours: usize,
}

impl Default for TextLimits {
    fn default() -> Self {
        Self {
            own_literals: 4,
            mentions: 8,
            neighbour_texts: 6,
            neighbours: 16,
        }
    }
}

/// The target definition and the vocabularies of a trained model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Vocabulary {
    pub class: String,
    pub label: String,
    /// Label values (IRIs or literal lexical forms), sorted.
    pub classes: Vec<String>,
    /// Relation IRIs; relation `i` read backwards is `i + relations.len()`.
    pub relations: Vec<String>,
    /// Node feature keys: `a <Class>`, `<predicate> "short value"`,
    /// `<predicate> *other*` and `= <hub IRI>`.
    pub features: Vec<String>,
    /// Encoders of the numbers, dates and booleans.
    #[serde(default)]
    pub columns: LiteralColumns,
    /// The relation paths counted from each target.
    #[serde(default)]
    pub paths: RelationPaths,
    /// The query that finds mentions (`?entity ?text ?start ?end`).
    pub mentions_query: String,
    pub limits: TextLimits,
    /// Every IRI gets a feature of its own (transductive: the model then
    /// knows this store's entities by name, as the original R-GCN does).
    #[serde(default)]
    pub node_ids: bool,
    /// How many hops from the targets the graph is read ([`READ_REACH`]);
    /// `None` (model folders from before it): the whole store.
    #[serde(default)]
    pub reach: Option<usize>,
}

/// How far from the targets the graph is read, in hops over edges other
/// than `rdf:type`. The R-GCN sees at most 3 hops and relation paths are at
/// most 3 steps long; one hop more keeps the degree-based features (hubs) of
/// the farthest nodes as they are in the whole store. What lies beyond (an
/// ontology's own axioms, FIBO loaded beside the data) cannot change a
/// target's score, and reading it cost memory, time and stability.
pub const READ_REACH: usize = super::paths::MAX_LENGTH + 1;

/// Where a text item comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ItemSource {
    /// A literal of the target itself, by predicate.
    Literal(String),
    /// A long literal of a neighbour, by neighbour and predicate.
    Neighbour(String, String),
    /// A mention of the target in a text.
    Mention,
}

/// A text (an index into [`FusionInputs::texts`]) and the character span of
/// it that concerns the target (`None`: the whole text).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TextItem {
    pub text: usize,
    pub span: Option<(usize, usize)>,
    pub source: ItemSource,
}

/// One entity the model scores.
#[derive(Debug, Clone)]
pub struct Target {
    pub node: u32,
    /// Class index, when the store has the label.
    pub label: Option<u32>,
    pub items: Vec<TextItem>,
    /// Nearby subgraph nodes (1 hop, then 2), for the span-to-node attention.
    pub neighbours: Vec<u32>,
    /// Indices into `edges` (forward edges only) touching the target, for the
    /// link-prediction part of the joint loss.
    pub incident: Vec<usize>,
}

/// Everything the model needs from one store.
pub struct FusionInputs {
    pub view: GraphView,
    /// Forward edges `(source, relation, target)` in vocabulary ids; inverses
    /// are added when the message graph is built.
    pub edges: Vec<(u32, u32, u32)>,
    /// Feature ids of each node (never empty: every node has the `node` feature).
    pub node_features: Vec<Vec<u32>>,
    /// Every node's encoded literal columns, `node_count × columns.width()`.
    pub node_columns: Vec<f32>,
    pub targets: Vec<Target>,
    /// Each target's counts of the vocabulary's relation paths, in order.
    pub target_paths: Vec<PathCounts>,
    pub texts: Vec<String>,
}

/// The feature every node has, so unknown nodes still get an input.
const NODE_FEATURE: &str = "node";

impl Vocabulary {
    /// Fixes the vocabularies from a training store.
    pub fn from_store(
        store: &Store,
        class: &NamedNode,
        label: &NamedNode,
        mentions_query: Option<String>,
        limits: TextLimits,
        node_ids: bool,
    ) -> Result<Self> {
        let members = crate::graph::class_members(store, class)?;
        let view = graph_view(store, label)?.within_reach(&members, READ_REACH, is_followed);
        let labelled = labelled_entities(store, label, Some(class))?;
        if labelled.is_empty() {
            return Err(Error::Setting {
                setting: Setting::ClassAndLabel,
                message: format!(
                    "no entity of class <{}> has a <{}> value",
                    class.as_str(),
                    label.as_str()
                ),
            });
        }
        let classes: Vec<String> = labelled
            .values()
            .cloned()
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if classes.len() < 2 {
            return Err(Error::Data(format!(
                "every labelled entity has the same <{}> value ({}); a classifier needs two classes at least",
                label.as_str(),
                classes[0]
            )));
        }
        // Classes are node features, so `rdf:type` edges (hubs into every
        // class) are left out of message passing.
        let mut relations: Vec<String> = view
            .relations()
            .iter()
            .filter(|r| r.as_ref() != rdf::TYPE)
            .map(|r| r.as_str().to_owned())
            .collect();
        relations.sort();
        let relations = without_twins(store, &view, relations)?;
        let label_of: HashMap<u32, &str> = labelled
            .iter()
            .filter_map(|(e, v)| Some((view.node_id(e)?, v.as_str())))
            .collect();
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for id in 0..view.node_count() as u32 {
            for key in feature_keys(&view, id, node_ids, label_of.get(&id).copied()) {
                *counts.entry(key).or_default() += 1;
            }
        }
        let features = categorical_features(counts);
        let columns = LiteralColumns::fit(&view, &|node, literal| {
            label_of.get(&node) == Some(&literal.value())
        });
        Ok(Self {
            class: class.as_str().to_owned(),
            label: label.as_str().to_owned(),
            classes,
            relations,
            features,
            columns,
            paths: RelationPaths::default(),
            mentions_query: mentions_query.unwrap_or_else(|| {
                named_query("mentions")
                    .map(|q| q.text.to_owned())
                    .unwrap_or_default()
            }),
            limits,
            node_ids,
            reach: Some(READ_REACH),
        })
    }

    /// Reads the store through this vocabulary. `entities` restricts the
    /// targets (default: every entity of the class).
    pub fn inputs(
        &self,
        store: &Store,
        entities: Option<&[NamedOrBlankNode]>,
    ) -> Result<FusionInputs> {
        let class = NamedNode::new(&self.class).map_err(|e| Error::InvalidTerm(e.to_string()))?;
        let label = NamedNode::new(&self.label).map_err(|e| Error::InvalidTerm(e.to_string()))?;
        let labelled = labelled_entities(store, &label, Some(&class))?;
        let wanted: Vec<NamedOrBlankNode> = match entities {
            Some(list) => list.to_vec(),
            None => crate::graph::class_members(store, &class)?,
        };
        let mut view = graph_view(store, &label)?;
        if let Some(hops) = self.reach {
            view = view.within_reach(&wanted, hops, is_followed);
        }
        if wanted.is_empty() {
            return Err(Error::Data(format!(
                "the store has no entity of class <{}>: this model was trained for it (wrong store?)",
                self.class
            )));
        }
        self.check_schema(&view)?;
        let class_ids: HashMap<&str, u32> = self
            .classes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.as_str(), i as u32))
            .collect();
        // Targets must be nodes even when isolated.
        for entity in &wanted {
            view.ensure_node(entity.clone());
        }
        // Each labelled target's label value, by node.
        let label_values: HashMap<u32, &str> = wanted
            .iter()
            .filter_map(|e| Some((view.node_id(e)?, labelled.get(e)?.as_str())))
            .collect();
        let edges = self.leak_free_edges(&view, &label_values);
        let node_features = self.node_features(&view, &label_values);
        // Nor may a target keep its label value as a literal of another
        // predicate (a literal label's super-property), as a column or a text.
        let node_columns = self.columns.encode_all(&view, &|node, literal| {
            label_values.get(&node) == Some(&literal.value())
        });
        let mut adjacency: Vec<Vec<(u32, usize)>> = vec![Vec::new(); view.node_count()];
        for (i, &(s, _, o)) in edges.iter().enumerate() {
            adjacency[s as usize].push((o, i));
            adjacency[o as usize].push((s, i));
        }
        let mentions = self.mentions(store)?;
        let mut texts = TextTable::default();
        let targets = wanted
            .iter()
            .map(|entity| {
                let node = view.node_id(entity).expect("ensured above");
                let near: Vec<u32> = {
                    let mut near: Vec<u32> =
                        adjacency[node as usize].iter().map(|&(n, _)| n).collect();
                    near.sort_unstable();
                    near.dedup();
                    near
                };
                let own_mentions = mentions.get(entity).map_or(&[][..], Vec::as_slice);
                Target {
                    node,
                    label: label_values
                        .get(&node)
                        .and_then(|v| class_ids.get(v).copied()),
                    items: self.text_items(
                        &view,
                        node,
                        &near,
                        own_mentions,
                        label_values.get(&node).copied(),
                        &mut texts,
                    ),
                    neighbours: self.subgraph_neighbours(node, &near, &adjacency),
                    incident: adjacency[node as usize].iter().map(|&(_, e)| e).collect(),
                }
            })
            .collect();
        let mut inputs = FusionInputs {
            view,
            edges,
            node_features,
            node_columns,
            targets,
            target_paths: Vec::new(),
            texts: texts.texts,
        };
        inputs.target_paths = self.paths.encode(&inputs, self.relations.len());
        Ok(inputs)
    }

    /// A store that shares none of the model's relations has another schema.
    fn check_schema(&self, view: &GraphView) -> Result<()> {
        let shared = view
            .relations()
            .iter()
            .filter(|r| self.relations.iter().any(|known| known == r.as_str()))
            .count();
        if shared == 0 && !self.relations.is_empty() {
            return Err(Error::Data(format!(
                "none of the model's {} relations occur in this store: the model was trained on a store with another schema",
                self.relations.len()
            )));
        }
        Ok(())
    }

    /// The view's edges in vocabulary ids, without `rdf:type` (classes are
    /// features) and without any edge that joins a target to its own label
    /// value (e.g. an inferred super-property of the label): that would
    /// leak the answer.
    fn leak_free_edges(
        &self,
        view: &GraphView,
        label_values: &HashMap<u32, &str>,
    ) -> Vec<(u32, u32, u32)> {
        let relation_ids: HashMap<&str, u32> = self
            .relations
            .iter()
            .enumerate()
            .map(|(i, r)| (r.as_str(), i as u32))
            .collect();
        let label_nodes: HashMap<u32, u32> = label_values
            .iter()
            .filter_map(|(&node, value)| {
                let value_node = view.node_id(&NamedNode::new(*value).ok()?.into())?;
                Some((node, value_node))
            })
            .collect();
        let leaks =
            |s: u32, o: u32| label_nodes.get(&s) == Some(&o) || label_nodes.get(&o) == Some(&s);
        view.edges()
            .filter_map(|e| {
                let iri = view.relation(e.relation).0.as_str();
                if iri == rdf::TYPE.as_str() {
                    return None;
                }
                let r = *relation_ids.get(iri)?;
                (!leaks(e.source, e.target)).then_some((e.source, r, e.target))
            })
            .collect()
    }

    /// Every node's feature ids; a categorical value outside the
    /// vocabulary falls into its predicate's "other" feature.
    fn node_features(&self, view: &GraphView, label_values: &HashMap<u32, &str>) -> Vec<Vec<u32>> {
        let feature_ids: HashMap<&str, u32> = self
            .features
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), i as u32))
            .collect();
        (0..view.node_count() as u32)
            .map(|id| {
                let mut ids: Vec<u32> =
                    feature_keys(view, id, self.node_ids, label_values.get(&id).copied())
                        .iter()
                        .filter_map(|k| {
                            feature_ids.get(k.as_str()).copied().or_else(|| {
                                let (predicate, _) = k.split_once("> ")?;
                                let other = format!("{predicate}> {OTHER_VALUE}");
                                feature_ids.get(other.as_str()).copied()
                            })
                        })
                        .collect();
                ids.sort_unstable();
                ids.dedup();
                ids
            })
            .collect()
    }

    /// A target's texts: its own string literals (not its label value), its
    /// mentions with their spans, then long literals of its neighbours
    /// `near`, each text once.
    fn text_items(
        &self,
        view: &GraphView,
        node: u32,
        near: &[u32],
        mentions: &[(String, usize, usize)],
        label_value: Option<&str>,
        texts: &mut TextTable,
    ) -> Vec<TextItem> {
        let mut items = Vec::new();
        let mut used = HashSet::new();
        for t in view
            .text(node)
            .iter()
            .filter(|t| is_text(&t.literal) && t.literal.value().chars().count() >= 3)
            .filter(|t| label_value != Some(t.literal.value()))
            .take(self.limits.own_literals)
        {
            let text = texts.intern(t.literal.value());
            used.insert(text);
            items.push(TextItem {
                text,
                span: None,
                source: ItemSource::Literal(t.predicate.as_str().to_owned()),
            });
        }
        for (text, start, end) in mentions.iter().take(self.limits.mentions) {
            let text = texts.intern(text);
            used.insert(text);
            items.push(TextItem {
                text,
                span: Some((*start, *end)),
                source: ItemSource::Mention,
            });
        }
        let mut neighbour_texts = 0;
        'outer: for &n in near {
            for t in view.text(n) {
                if neighbour_texts >= self.limits.neighbour_texts {
                    break 'outer;
                }
                if !is_text(&t.literal) || t.literal.value().chars().count() < LONG_LITERAL {
                    continue;
                }
                let text = texts.intern(t.literal.value());
                if used.insert(text) {
                    neighbour_texts += 1;
                    items.push(TextItem {
                        text,
                        span: None,
                        source: ItemSource::Neighbour(
                            view.node(n).to_string(),
                            t.predicate.as_str().to_owned(),
                        ),
                    });
                }
            }
        }
        items
    }

    /// The nodes a target's spans attend over: its neighbours `near`, then
    /// (when they are fewer than the limit) its second-hop nodes.
    fn subgraph_neighbours(
        &self,
        node: u32,
        near: &[u32],
        adjacency: &[Vec<(u32, usize)>],
    ) -> Vec<u32> {
        let mut neighbours: Vec<u32> = near.iter().copied().filter(|&n| n != node).collect();
        if neighbours.len() < self.limits.neighbours {
            let mut second: Vec<u32> = near
                .iter()
                .flat_map(|&n| adjacency[n as usize].iter().map(|&(m, _)| m))
                .filter(|&m| m != node && near.binary_search(&m).is_err())
                .collect();
            second.sort_unstable();
            second.dedup();
            neighbours.extend(second);
        }
        neighbours.truncate(self.limits.neighbours);
        neighbours
    }

    /// Mentions per entity: `(text, start, end)` in characters.
    fn mentions(
        &self,
        store: &Store,
    ) -> Result<HashMap<NamedOrBlankNode, Vec<(String, usize, usize)>>> {
        let mut out: HashMap<NamedOrBlankNode, Vec<(String, usize, usize)>> = HashMap::new();
        if self.mentions_query.trim().is_empty() {
            return Ok(out);
        }
        let (_, rows) = SparqlRunner::new(store).select(&self.mentions_query, &[])?;
        for row in rows {
            let [Some(entity), Some(Term::Literal(text)), Some(Term::Literal(start)), Some(Term::Literal(end))] =
                row.as_slice()
            else {
                continue;
            };
            let Ok(entity) = NamedOrBlankNode::try_from(entity.clone()) else {
                continue;
            };
            let (Ok(start), Ok(end)) = (start.value().parse(), end.value().parse()) else {
                continue;
            };
            out.entry(entity)
                .or_default()
                .push((text.value().to_owned(), start, end));
        }
        for list in out.values_mut() {
            list.sort();
        }
        Ok(out)
    }
}

impl FusionInputs {
    /// The targets as a flat table (one row each, in order), for baselines
    /// that read attributes only: the encoded literal columns, a 0/1 column
    /// per node feature (classes, categorical values, hubs), then
    /// weighted count per relation path of `paths` (`counts`: each
    /// target's, by `paths`' ids).
    pub fn target_table(
        &self,
        vocab: &Vocabulary,
        paths: &RelationPaths,
        counts: &[PathCounts],
    ) -> (Vec<String>, Vec<Vec<f32>>) {
        let width = vocab.columns.width();
        let mut names = vocab.columns.names();
        names.extend(vocab.features.iter().cloned());
        names.extend(paths.names(vocab));
        let paths_at = width + vocab.features.len();
        let rows = self
            .targets
            .iter()
            .zip(counts)
            .map(|(t, paths)| {
                let node = t.node as usize;
                let mut row = self.node_columns[node * width..(node + 1) * width].to_vec();
                row.resize(names.len(), 0.0);
                for &f in &self.node_features[node] {
                    row[width + f as usize] = 1.0;
                }
                for &(p, weight) in paths {
                    row[paths_at + p as usize] = weight;
                }
                row
            })
            .collect();
        (names, rows)
    }
}

/// Deduplicated texts.
#[derive(Default)]
struct TextTable {
    texts: Vec<String>,
    ids: HashMap<String, usize>,
}

impl TextTable {
    fn intern(&mut self, text: &str) -> usize {
        if let Some(&id) = self.ids.get(text) {
            return id;
        }
        self.texts.push(text.to_owned());
        self.ids.insert(text.to_owned(), self.texts.len() - 1);
        self.texts.len() - 1
    }
}

/// Plain or language-tagged strings (not numbers, dates, IRIs as strings).
fn is_text(literal: &oxigraph::model::Literal) -> bool {
    let datatype = literal.datatype().as_str();
    datatype == "http://www.w3.org/2001/XMLSchema#string"
        || datatype == "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
}

/// The store as a graph without the label property and without kgfuse's
/// own prediction triples (scores written back must not feed the model).
fn graph_view(store: &Store, label: &NamedNode) -> Result<GraphView> {
    let options = GraphViewOptions {
        exclude_predicates: vec![
            label.clone(),
            NamedNode::new_unchecked(format!("{KGFUSE_NS}score")),
            NamedNode::new_unchecked(format!("{KGFUSE_NS}predictedLabel")),
            NamedNode::new_unchecked(format!("{KGFUSE_NS}scoredBy")),
        ],
    };
    GraphView::from_store(store, &options)
}

/// The relations less those whose edges repeat another's, forwards or
/// backwards: `risk:subsidiaryOf` beside `risk:hasSubsidiary`, or the
/// super-properties an aligned ontology adds (FIBO's `hasDirector` over
/// `risk:hasDirector`). A twin adds no information, only parameters, and
/// summing the same message once per twin destabilises training. Of a set
/// of twins one stays: the most specific (no twin is its sub-property),
/// preferring one that is itself a sub-property of a twin (the data's own
/// term under an aligned ontology's), then the first by IRI.
fn without_twins(store: &Store, view: &GraphView, relations: Vec<String>) -> Result<Vec<String>> {
    let mut pairs: HashMap<&str, Vec<(u32, u32)>> = HashMap::new();
    for e in view.edges() {
        pairs
            .entry(view.relation(e.relation).0.as_str())
            .or_default()
            .push((e.source, e.target));
    }
    // Twins share a key: the smaller of their edge list and its reverse.
    let mut twins: BTreeMap<Vec<(u32, u32)>, Vec<String>> = BTreeMap::new();
    for relation in relations {
        let mut forward = pairs.remove(relation.as_str()).unwrap_or_default();
        forward.sort_unstable();
        forward.dedup();
        let mut backward: Vec<(u32, u32)> = forward.iter().map(|&(s, o)| (o, s)).collect();
        backward.sort_unstable();
        twins
            .entry(forward.min(backward))
            .or_default()
            .push(relation);
    }
    let sub_property_of = |sub: &str, sup: &str| -> Result<bool> {
        let (Ok(sub), Ok(sup)) = (NamedNode::new(sub), NamedNode::new(sup)) else {
            return Ok(false);
        };
        let mut found = store.quads_matching(
            Some(sub.as_ref().into()),
            Some(rdfs::SUB_PROPERTY_OF),
            Some(sup.as_ref().into()),
            None,
        );
        Ok(found.next().transpose()?.is_some())
    };
    let mut kept = Vec::new();
    for mut group in twins.into_values() {
        group.sort();
        // `below[i][j]`: twin i is a sub-property of twin j (asked once per pair).
        let mut below = vec![vec![false; group.len()]; group.len()];
        for (i, sub) in group.iter().enumerate() {
            for (j, sup) in group.iter().enumerate() {
                below[i][j] = i != j && sub_property_of(sub, sup)?;
            }
        }
        let most_specific = |i: usize| (0..group.len()).all(|j| !below[j][i]);
        let under_a_twin = |i: usize| below[i].iter().any(|&b| b);
        let chosen = (0..group.len())
            .filter(|&i| most_specific(i))
            .max_by_key(|&i| (under_a_twin(i), std::cmp::Reverse(i)))
            .unwrap_or(0);
        kept.push(group.swap_remove(chosen));
    }
    kept.sort();
    Ok(kept)
}

/// Relations the graph is read along; classes (`rdf:type`) are features of
/// the nodes reached, not a way to reach more.
fn is_followed(relation: &NamedNode) -> bool {
    relation.as_ref() != rdf::TYPE
}

/// Feature keys of a node: its classes, its short literals, and its IRI
/// when it is a reference hub (the object of one relation from many
/// subjects: a jurisdiction, a regulator, a lender). Entities that merely
/// have many edges get no identity feature, or the model would memorise them
/// (unless `node_ids` asks for every IRI's identity). Literals equal to
/// `label_value` (the node's own label) are left out.
fn feature_keys(
    view: &GraphView,
    id: u32,
    node_ids: bool,
    label_value: Option<&str>,
) -> Vec<String> {
    let mut keys = vec![NODE_FEATURE.to_owned()];
    let node = view.node(id);
    if matches!(node, NamedOrBlankNode::NamedNode(_)) {
        let mut incoming: HashMap<u32, usize> = HashMap::new();
        for (relation, _) in view.neighbours(id) {
            if view.relation(relation).1 {
                *incoming.entry(relation).or_default() += 1;
            }
        }
        if node_ids || incoming.values().any(|&n| n >= HUB_DEGREE) {
            keys.push(format!("= {node}"));
        }
    }
    for (relation, neighbour) in view.neighbours(id) {
        let (predicate, inverse) = view.relation(relation);
        if !inverse && predicate.as_ref() == rdf::TYPE {
            keys.push(format!("a {}", view.node(neighbour)));
        }
    }
    for t in view.text(id) {
        let value = t.literal.value();
        if TypedValue::of(&t.literal).is_some() {
            continue; // a literal column
        }
        if value.chars().count() <= SHORT_LITERAL && Some(value) != label_value {
            keys.push(format!("<{}> {:?}", t.predicate.as_str(), value));
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

/// The node features kept from every key's count: `node` and hubs always,
/// classes seen on two nodes or more;
/// a string predicate's values seen on two nodes or more, its
/// [`MAX_CATEGORIES`] most frequent, and an "other" feature for the rest.
fn categorical_features(counts: BTreeMap<String, usize>) -> Vec<String> {
    let mut by_predicate: BTreeMap<String, Vec<(usize, String)>> = BTreeMap::new();
    let mut features = Vec::new();
    for (key, count) in counts {
        match key.split_once("> ") {
            Some((predicate, _)) if key.starts_with('<') => by_predicate
                .entry(predicate.to_owned())
                .or_default()
                .push((count, key)),
            _ if key == NODE_FEATURE || key.starts_with("= ") || count >= MIN_FEATURE_COUNT => {
                features.push(key)
            }
            _ => {}
        }
    }
    for (predicate, mut values) in by_predicate {
        let distinct = values.len();
        values.retain(|(count, _)| *count >= MIN_FEATURE_COUNT);
        values.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        values.truncate(MAX_CATEGORIES);
        if !values.is_empty() && values.len() < distinct {
            features.push(format!("{predicate}> {OTHER_VALUE}"));
        }
        features.extend(values.into_iter().map(|(_, key)| key));
    }
    features.sort();
    features
}

#[cfg(test)]
mod tests {
    use super::*;

    const EX: &str = "http://example.org/";

    fn iri(name: &str) -> NamedNode {
        NamedNode::new(format!("{EX}{name}")).unwrap()
    }

    fn store(turtle: &str) -> Store {
        crate::test_support::store_from_turtle(&format!("@prefix ex: <{EX}> .\n{turtle}"))
    }

    fn read(store: &Store, label: &str) -> (Vocabulary, FusionInputs) {
        let vocabulary = Vocabulary::from_store(
            store,
            &iri("Company"),
            &iri(label),
            Some(String::new()),
            TextLimits::default(),
            false,
        )
        .unwrap();
        let inputs = vocabulary.inputs(store, None).unwrap();
        (vocabulary, inputs)
    }

    /// The relations (local names) of the edges between two nodes, either way.
    fn edges_between(v: &Vocabulary, inputs: &FusionInputs, a: &str, b: &str) -> Vec<String> {
        let node = |n: &str| inputs.view.node_id(&iri(n).into()).unwrap();
        let (a, b) = (node(a), node(b));
        let mut out: Vec<String> = inputs
            .edges
            .iter()
            .filter(|&&(s, _, o)| (s, o) == (a, b) || (s, o) == (b, a))
            .map(|&(_, r, _)| v.relations[r as usize].trim_start_matches(EX).to_owned())
            .collect();
        out.sort();
        out
    }

    /// c0 reaches its label value by another predicate (as an inferred
    /// super-property of the label would), the value reaches c1 by a
    /// relation pointing at it, and c2 and b0 link to a value that is not
    /// their own label.
    const RISKS: &str = "
        ex:c0 a ex:Company ; ex:risk ex:High ; ex:rated ex:High ; ex:bank ex:b0 .
        ex:c1 a ex:Company ; ex:risk ex:High .
        ex:High ex:riskOf ex:c1 .
        ex:c2 a ex:Company ; ex:risk ex:Low ; ex:comparedWith ex:High ; ex:bank ex:b0 .
        ex:c3 a ex:Company ; ex:risk ex:Low ; ex:rated ex:Low .
        ex:b0 ex:rating ex:High .
    ";

    #[test]
    fn no_edge_joins_a_target_to_its_own_label_value() {
        let (v, inputs) = read(&store(RISKS), "risk");
        assert!(
            !v.relations.contains(&format!("{EX}risk")),
            "{:?}",
            v.relations
        );
        assert_eq!(
            edges_between(&v, &inputs, "c0", "High"),
            Vec::<String>::new()
        );
        assert_eq!(
            edges_between(&v, &inputs, "c3", "Low"),
            Vec::<String>::new()
        );
        assert_eq!(
            edges_between(&v, &inputs, "c1", "High"),
            Vec::<String>::new(),
            "from the label value to the target"
        );
        let c1 = inputs.view.node_id(&iri("c1").into()).unwrap();
        let target = inputs.targets.iter().find(|t| t.node == c1).unwrap();
        assert_eq!(target.label, Some(0), "classes sorted: High, Low");
        assert!(target.incident.is_empty(), "{:?}", target.incident);
        assert!(target.neighbours.is_empty(), "{:?}", target.neighbours);
    }

    /// An aligned ontology's super-property and an inverse repeat the data's
    /// own relation: the sub-property stays, its twins go; a relation with
    /// edges of its own stays too. Beyond four hops nothing is read.
    #[test]
    fn twins_are_dropped_and_the_store_is_read_within_reach() {
        let (v, inputs) = read(
            &store(
                "ex:hasDirector <http://www.w3.org/2000/01/rdf-schema#subPropertyOf> ex:fiboHasDirector .
                 ex:c0 a ex:Company ; ex:risk ex:High ; ex:hasDirector ex:p0 ; ex:fiboHasDirector ex:p0 .
                 ex:c1 a ex:Company ; ex:risk ex:Low ; ex:hasDirector ex:p1 ; ex:fiboHasDirector ex:p1 .
                 ex:p0 ex:directorOf ex:c0 ; ex:knows ex:p1 .
                 ex:p1 ex:directorOf ex:c1 ; ex:knows ex:p2 .
                 ex:p2 ex:knows ex:p3 . ex:p3 ex:knows ex:p4 . ex:p4 ex:knows ex:p5 .",
            ),
            "risk",
        );
        let local: Vec<&str> = v
            .relations
            .iter()
            .map(|r| r.trim_start_matches(EX))
            .collect();
        assert_eq!(local, ["hasDirector", "knows"], "{:?}", v.relations);
        let seen = |n: &str| inputs.view.node_id(&iri(n).into()).is_some();
        assert!(seen("p4"), "four hops from c1: p1, p2, p3, p4");
        assert!(!seen("p5"), "five hops from every company");
        assert!(!seen("fiboHasDirector"), "the schema is beyond reach");
    }

    #[test]
    fn edges_to_other_values_stay() {
        let (v, inputs) = read(&store(RISKS), "risk");
        assert_eq!(edges_between(&v, &inputs, "c2", "High"), ["comparedWith"]);
        assert_eq!(edges_between(&v, &inputs, "c0", "b0"), ["bank"]);
        assert_eq!(edges_between(&v, &inputs, "b0", "High"), ["rating"]);
        assert_eq!(inputs.edges.len(), 4, "{:?}", inputs.edges);
    }

    /// A literal label, and the same literal under another predicate (a
    /// super-property of the label, say): as a node feature or a text it
    /// would hand the model the answer.
    #[test]
    fn no_target_keeps_its_label_literal_under_another_predicate() {
        let mut turtle = String::new();
        for (i, tier) in ["high", "high", "low", "low"].iter().enumerate() {
            turtle.push_str(&format!(
                "ex:c{i} a ex:Company ; ex:tier \"{tier}\" ; ex:grade \"{tier}\" ; ex:bank ex:b0 .\n"
            ));
        }
        let (v, inputs) = read(&store(&turtle), "tier");
        assert_eq!(v.classes, ["high", "low"]);
        for target in &inputs.targets {
            let features: Vec<&str> = inputs.node_features[target.node as usize]
                .iter()
                .map(|&f| v.features[f as usize].as_str())
                .collect();
            assert!(
                features.iter().all(|f| !f.contains("grade")),
                "{features:?}"
            );
            let texts: Vec<&str> = target
                .items
                .iter()
                .map(|i| inputs.texts[i.text].as_str())
                .collect();
            assert!(texts.is_empty(), "{texts:?}");
        }
    }
}
