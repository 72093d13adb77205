//! Questions of more hops than the training files have, composed from the
//! user's own phrasings (as MetaQA's 3-hop questions were composed from its
//! 1-hop templates). From labelled training questions (`labels`), a
//! `Phrasebook` learns:
//! - each relation's question templates (1-hop questions, topic masked),
//! - each relation pair's templates (2-hop questions),
//! - each relation's noun phrases: what is left of a 2-hop question once a
//!   1-hop template of its last relation is taken off around it ("who
//!   directed [MASK]" around "who directed the films written by [MASK]"
//!   leaves "the films written by [MASK]", a phrase for "written by,
//!   backwards").
//!
//! A composed question walks a relation path that exists in the store from
//! a training topic, and nests phrases into a template: "who directed" +
//! "the films written by" + "the writer of [MASK]". Only the text and the
//! path are made; the model learns the path from the text.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use oxigraph::model::{NamedNode, NamedOrBlankNode};
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use super::labels::RelationPath;
use super::MENTION_MASK;
use crate::error::Result;
use crate::graph::{SubgraphOptions, SubgraphRetriever};
use crate::store::Store;

/// What supports a phrase for one relation.
#[derive(Debug, Default)]
struct Evidence {
    asked: usize,
    lasts: BTreeSet<u32>,
    closed: bool,
}

/// Phrasings learned from labelled questions, each list sorted and without
/// repeats so that composing is deterministic.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Phrasebook {
    /// Masked 1-hop questions by relation.
    questions: BTreeMap<u32, Vec<String>>,
    /// Masked 2-hop questions by relation pair.
    pairs: BTreeMap<(u32, u32), Vec<String>>,
    /// Noun phrases (with the mask) for what a relation reaches.
    phrases: BTreeMap<u32, Vec<String>>,
}

impl Phrasebook {
    /// Learns from masked question texts whose label is one path (questions
    /// with several equally good paths say nothing certain about phrasing).
    /// Labels are noisy (a film's director may also be its writer), so a
    /// phrase must be seen often and mostly with one relation.
    pub fn learn<'a>(labelled: impl IntoIterator<Item = (&'a str, &'a [RelationPath])>) -> Self {
        let mut book = Self::default();
        // How often each template was asked, by path.
        let mut ones: BTreeMap<(u32, &str), usize> = BTreeMap::new();
        let mut twos: BTreeMap<((u32, u32), &str), usize> = BTreeMap::new();
        for (text, paths) in labelled {
            if paths.len() != 1 || text.matches(MENTION_MASK).count() != 1 {
                continue;
            }
            match paths[0].as_slice() {
                &[r] => *ones.entry((r, text)).or_default() += 1,
                &[a, b] => *twos.entry(((a, b), text)).or_default() += 1,
                _ => {}
            }
        }
        for &(r, text) in ones.keys() {
            book.questions.entry(r).or_default().push(text.to_owned());
        }
        for &(pair, text) in twos.keys() {
            book.pairs.entry(pair).or_default().push(text.to_owned());
        }
        // Evidence for "phrase names what relation r reaches": questions
        // asked, the last relations of the 2-hop questions it came from, and
        // whether it was ever seen closed by the mask within a longer text.
        let mut evidence: BTreeMap<String, BTreeMap<u32, Evidence>> = BTreeMap::new();
        // What a 2-hop question holds inside a 1-hop template of its last
        // relation is a phrase for its first ("the films written by [MASK]"
        // inside "who directed [MASK]").
        for (&((first, last), template), &asked) in &twos {
            for around in book.questions.get(&last).map_or(&[][..], Vec::as_slice) {
                if let Some((phrase, cut)) = inner_phrase(template, around) {
                    let entry = evidence
                        .entry(phrase)
                        .or_default()
                        .entry(first)
                        .or_default();
                    entry.asked += asked;
                    entry.lasts.insert(last);
                    entry.closed |= cut;
                }
            }
        }
        // The longest end of a 1-hop question that 2-hop questions starting
        // with its relation hold ("the director of [MASK]" of "who is the
        // director of [MASK]").
        for &(relation, template) in ones.keys() {
            // The longest such end that some 2-hop question starting with
            // the relation holds.
            let held = |end: &str| {
                twos.keys()
                    .any(|&((first, _), t)| first == relation && holds_phrase(t, end))
            };
            if let Some(phrase) = specific_end(template, relation, &ones, held) {
                for (&((first, last), t), &asked) in &twos {
                    if first == relation && holds_phrase(t, phrase) {
                        let entry = evidence
                            .entry(phrase.to_owned())
                            .or_default()
                            .entry(first)
                            .or_default();
                        entry.asked += asked;
                        entry.lasts.insert(last);
                        entry.closed = true;
                    }
                }
            }
        }
        // Kept: asked at least 3 times, 70 % of the time with its relation,
        // and either closed by the mask in a longer text or found under two
        // last relations (else it may begin with words of the outer
        // question).
        for (phrase, by_relation) in evidence {
            let total: usize = by_relation.values().map(|e| e.asked).sum();
            if let Some((&relation, e)) = by_relation
                .iter()
                .max_by_key(|(r, e)| (e.asked, std::cmp::Reverse(**r)))
            {
                if e.asked >= 3
                    && e.asked as f64 >= 0.7 * total as f64
                    && (e.closed || e.lasts.len() >= 2)
                {
                    book.phrases.entry(relation).or_default().push(phrase);
                }
            }
        }
        // "in [MASK]" is the end of "the actor in [MASK]", not a phrase.
        for list in book.phrases.values_mut() {
            let all = list.clone();
            list.retain(|p| !all.iter().any(|q| q != p && q.ends_with(&format!(" {p}"))));
        }
        book
    }

    /// Relations with a noun phrase.
    pub fn phrase_count(&self) -> usize {
        self.phrases.values().map(Vec::len).sum()
    }

    /// Whether a path of `hops` relations can be phrased at all.
    pub fn can_compose(&self, hops: usize) -> bool {
        match hops {
            0 => false,
            1 => !self.questions.is_empty(),
            _ => !self.phrases.is_empty(),
        }
    }

    /// The relations allowed at `depth` of a path of `hops` that starts with
    /// `prefix`, for the path to be phrasable.
    fn allowed(&self, depth: usize, hops: usize, prefix: &[u32]) -> Vec<u32> {
        let mut allowed: Vec<u32> = if depth + 1 == hops {
            let last = prefix.last().copied();
            let mut ends: Vec<u32> = self
                .pairs
                .keys()
                .filter(|(a, _)| Some(*a) == last)
                .map(|&(_, b)| b)
                .collect();
            if hops == 1 || last.is_some_and(|l| self.phrases.contains_key(&l)) {
                ends.extend(self.questions.keys());
            }
            ends
        } else if depth + 2 == hops {
            let mut starts: Vec<u32> = self.pairs.keys().map(|&(a, _)| a).collect();
            starts.extend(self.phrases.keys());
            starts
        } else {
            self.phrases.keys().copied().collect()
        };
        allowed.sort_unstable();
        allowed.dedup();
        allowed
    }

    /// A masked question for `path`, or `None` when the book lacks a piece.
    /// The last relation (or the last two) comes from a question template,
    /// the ones before from nested noun phrases.
    pub fn compose(&self, path: &[u32], rng: &mut impl Rng) -> Option<String> {
        let k = path.len();
        let mut options: Vec<(&Vec<String>, usize)> = Vec::new();
        if let Some(templates) = self.questions.get(path.last()?) {
            options.push((templates, k - 1));
        }
        if k >= 2 {
            if let Some(templates) = self.pairs.get(&(path[k - 2], path[k - 1])) {
                options.push((templates, k - 2));
            }
        }
        options.retain(|(_, inner)| path[..*inner].iter().all(|r| self.phrases.contains_key(r)));
        let (templates, inner) = options.choose(rng)?;
        let mut text = MENTION_MASK.to_owned();
        for r in &path[..*inner] {
            let phrase = self.phrases[r].choose(rng)?;
            text = phrase.replacen(MENTION_MASK, &text, 1);
        }
        Some(templates.choose(rng)?.replacen(MENTION_MASK, &text, 1))
    }
}

/// What `template` holds where `around` holds its mask, if that is a longer
/// phrase with the mask inside.
/// The phrase ends with the mask: what follows it ("the director of [MASK]
/// also") is the outer question's; the flag says whether words were cut.
fn inner_phrase(template: &str, around: &str) -> Option<(String, bool)> {
    let (prefix, suffix) = around.split_once(MENTION_MASK)?;
    let middle = template.strip_prefix(prefix)?.strip_suffix(suffix)?;
    // Both sides of the outer template must say something, or any question
    // would "contain" a phrase.
    let anchored = prefix.trim().len() + suffix.trim().len() >= 3;
    let end = middle.find(MENTION_MASK)? + MENTION_MASK.len();
    let phrase = middle[..end].trim();
    (anchored && phrase != MENTION_MASK)
        .then(|| (phrase.to_owned(), !middle[end..].trim().is_empty()))
}

/// Whether `text` holds `phrase` starting at a word.
fn holds_phrase(text: &str, phrase: &str) -> bool {
    text.starts_with(phrase) || text.contains(&format!(" {phrase}"))
}

/// The longest end of a 1-hop `template` of `relation` at word boundaries,
/// the mask last, that `accept` takes, as long as 70 % of the 1-hop
/// questions ending with it ask about `relation` (shorter ends are no more
/// specific: the search stops there).
fn specific_end<'t>(
    template: &'t str,
    relation: u32,
    ones: &BTreeMap<(u32, &str), usize>,
    accept: impl Fn(&str) -> bool,
) -> Option<&'t str> {
    if !template.ends_with(MENTION_MASK) {
        return None;
    }
    for (start, _) in template.match_indices(' ') {
        let end = &template[start + 1..];
        if end == MENTION_MASK {
            return None;
        }
        let (mut mine, mut all) = (0usize, 0usize);
        for (&(r, t), &asked) in ones {
            if t.ends_with(end) {
                all += asked;
                mine += if r == relation { asked } else { 0 };
            }
        }
        if (mine as f64) < 0.7 * all as f64 {
            return None;
        }
        if accept(end) {
            return Some(end);
        }
    }
    None
}

/// Composes `count` questions of `hops` relations: each walks a phrasable
/// path in the store from one of `topics` (`steps[r]` is relation `r` as a
/// predicate and direction) and phrases it. Deterministic for a seed; fewer
/// come back when walks keep failing (no phrasable path from the topics).
pub fn compose_questions(
    store: &Store,
    book: &Phrasebook,
    steps: &[super::Step],
    topics: &[NamedOrBlankNode],
    hops: usize,
    count: usize,
    seed: u64,
) -> Result<Vec<(String, RelationPath)>> {
    if topics.is_empty() || !book.can_compose(hops) {
        return Ok(Vec::new());
    }
    let retriever = SubgraphRetriever::new(
        store,
        SubgraphOptions {
            hops: 1,
            fanout: 200,
        },
    )?;
    let ids: HashMap<(&NamedNode, bool), u32> = steps
        .iter()
        .enumerate()
        .map(|(r, s)| ((&s.predicate, s.forward), r as u32))
        .collect();
    let composed: Vec<Option<(String, RelationPath)>> = (0..count)
        .into_par_iter()
        .map(|i| {
            let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_mul(1_000_003) + i as u64);
            for _ in 0..20 {
                let start = topics.choose(&mut rng).expect("topics are not empty");
                if let Some(path) = walk(&retriever, book, &ids, start, hops, &mut rng)? {
                    if let Some(text) = book.compose(&path, &mut rng) {
                        return Ok(Some((text, path)));
                    }
                }
            }
            Ok(None)
        })
        .collect::<Result<_>>()?;
    Ok(composed.into_iter().flatten().collect())
}

/// A random phrasable path of `hops` relations that exists from `start`.
fn walk(
    retriever: &SubgraphRetriever,
    book: &Phrasebook,
    ids: &HashMap<(&NamedNode, bool), u32>,
    start: &NamedOrBlankNode,
    hops: usize,
    rng: &mut ChaCha8Rng,
) -> Result<Option<RelationPath>> {
    let mut node = start.clone();
    let mut path = Vec::new();
    for depth in 0..hops {
        let allowed = book.allowed(depth, hops, &path);
        let around = retriever.retrieve(std::slice::from_ref(&node))?;
        // Neighbours of the node by relation id, for the allowed relations.
        let mut reachable: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
        for edge in &around.edges {
            let (forward, other) = if edge.source == 0 {
                (true, edge.target)
            } else {
                (false, edge.source)
            };
            if let Some(&r) = ids.get(&(&edge.predicate, forward)) {
                if allowed.binary_search(&r).is_ok() {
                    reachable.entry(r).or_default().push(other);
                }
            }
        }
        let choices: Vec<(&u32, &Vec<usize>)> = reachable.iter().collect();
        let Some((&r, nodes)) = choices.choose(rng) else {
            return Ok(None);
        };
        path.push(r);
        node = around.nodes[*nodes.choose(rng).expect("a reachable relation has nodes")]
            .term
            .clone();
    }
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book() -> Phrasebook {
        let one = [
            ("who directed [MASK]", vec![vec![0]]),
            ("who is the director of [MASK]", vec![vec![0]]),
            ("who wrote [MASK]", vec![vec![1]]),
            ("what did [MASK] write", vec![vec![3]]),
            ("which films did [MASK] direct", vec![vec![2]]),
        ];
        let two = [
            ("who directed the films written by [MASK]", vec![vec![3, 0]]),
            (
                "who is the director of the films written by [MASK]",
                vec![vec![3, 0]],
            ),
            ("who wrote the films written by [MASK]", vec![vec![3, 1]]),
            ("who wrote the films directed by [MASK]", vec![vec![2, 1]]),
            (
                "which films did the director of [MASK] direct",
                vec![vec![0, 2]],
            ),
            (
                "who wrote the films of the director of [MASK]",
                vec![vec![0, 1]],
            ),
            // Two equally good paths: learns nothing.
            ("who made [MASK]", vec![vec![0], vec![1]]),
        ];
        let all: Vec<(&str, Vec<RelationPath>)> = one.into_iter().chain(two).collect();
        Phrasebook::learn(all.iter().map(|(t, p)| (*t, p.as_slice())))
    }

    #[test]
    fn phrases_come_from_inside_two_hop_questions_and_from_question_ends() {
        let book = book();
        // Inside one-hop templates of two different last relations.
        assert_eq!(
            book.phrases.get(&3),
            Some(&vec!["the films written by [MASK]".to_owned()]),
            "{book:?}"
        );
        // The end of "who is the director of [MASK]" that 2-hop questions hold.
        assert_eq!(
            book.phrases.get(&0),
            Some(&vec!["the director of [MASK]".to_owned()]),
            "{book:?}"
        );
        // Inside a template of one last relation only: not trusted.
        assert_eq!(book.phrases.get(&2), None);
        assert!(!book
            .questions
            .values()
            .flatten()
            .any(|q| q == "who made [MASK]"));
        assert_eq!(
            inner_phrase("who directed the films written by [MASK]", "[MASK]"),
            None,
            "a bare mask is no template"
        );
    }

    #[test]
    fn composed_questions_nest_phrases_into_templates() {
        let book = book();
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        for _ in 0..10 {
            let text = book.compose(&[3, 3, 0], &mut rng).unwrap();
            assert!(
                [
                    "who directed the films written by the films written by [MASK]",
                    "who is the director of the films written by the films written by [MASK]",
                ]
                .contains(&text.as_str()),
                "{text}"
            );
        }
        assert_eq!(book.compose(&[2, 3, 0], &mut rng), None, "no phrase for 2");
        assert_eq!(
            book.compose(&[0, 2], &mut rng).as_deref(),
            Some("which films did the director of [MASK] direct")
        );
        assert_eq!(book.allowed(0, 3, &[]), vec![0, 3]);
        assert_eq!(book.allowed(1, 3, &[3]), vec![0, 2, 3]);
        assert_eq!(book.allowed(2, 3, &[3, 3]), vec![0, 1, 2, 3]);
        assert_eq!(book.allowed(2, 3, &[3, 2]), vec![1]);
    }
}
