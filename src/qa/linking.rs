//! `EntityLinker`: finds the entities a question mentions. A bracketed span
//! (`[Christina Ricci]`, the MetaQA convention) names its entity directly,
//! and may name any labelled term; otherwise the longest label of an
//! *instance* found in the question is taken, with one Aho-Corasick automaton
//! over the instances' labels, built once. Classes and properties (the named
//! query `ontology-terms`) are left out of that search: their labels are the
//! question's words ("who *controls* …"), not its topic; so are the
//! instance labels that training questions use as words outside their
//! brackets (`question_words`, kept with a QA model). Matching is case- and
//! accent-insensitive and only at word boundaries; text that names no
//! instance is an error listing the closest labels.

use std::collections::{HashMap, HashSet};

use aho_corasick::AhoCorasick;
use oxigraph::model::{NamedOrBlankNode, Term};
use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};
use crate::store::named_queries::named_query;
use crate::store::query::SparqlRunner;
use crate::store::Store;

/// A stretch of the question that names one or more entities.
#[derive(Debug, Clone, PartialEq)]
pub struct Mention {
    /// Character offsets into the question as given.
    pub start: usize,
    pub end: usize,
    pub text: String,
    /// Every entity with this label (more than one: ambiguous).
    pub candidates: Vec<NamedOrBlankNode>,
}

/// Lower case, accents removed (NFD without combining marks), runs of
/// white space made one space.
pub fn normalize(text: &str) -> String {
    let folded: String = text
        .nfd()
        .filter(|c| !unicode_normalization::char::is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect();
    folded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The question without its `[` and `]`: what a user types.
pub fn strip_brackets(question: &str) -> String {
    question
        .chars()
        .filter(|c| !matches!(c, '[' | ']'))
        .collect()
}

/// One entity carrying a label.
struct Labelled {
    entity: NamedOrBlankNode,
    /// The label as written.
    written: String,
    /// A class or property: found only when bracketed.
    term: bool,
}

/// Every entity with one normalised label.
struct Label {
    key: String,
    entities: Vec<Labelled>,
}

impl Label {
    fn names_instance(&self) -> bool {
        self.entities.iter().any(|e| !e.term)
    }

    /// The instances with this label, or its terms when it names no
    /// instance; of those, the ones labelled exactly `text` if any are.
    fn candidates(&self, text: &str) -> Vec<NamedOrBlankNode> {
        let instance = self.names_instance();
        let kept: Vec<&Labelled> = self
            .entities
            .iter()
            .filter(|e| e.term != instance)
            .collect();
        let exact: Vec<NamedOrBlankNode> = kept
            .iter()
            .filter(|e| e.written == text)
            .map(|e| e.entity.clone())
            .collect();
        if exact.is_empty() {
            kept.iter().map(|e| e.entity.clone()).collect()
        } else {
            exact
        }
    }

    /// The label as written by its first instance (or term).
    fn written(&self) -> &str {
        let instance = self.names_instance();
        self.entities
            .iter()
            .find(|e| e.term != instance)
            .map_or(self.key.as_str(), |e| e.written.as_str())
    }
}

/// The store's labels, and an automaton over the normalised labels of its
/// instances.
pub struct EntityLinker {
    /// In first-seen order.
    labels: Vec<Label>,
    index: HashMap<String, usize>,
    /// Pattern `i` of the automaton is `labels[scanned[i]]`.
    scanned: Vec<usize>,
    automaton: AhoCorasick,
}

impl EntityLinker {
    /// Reads every label with the named query `labels`, and the classes and
    /// properties with `ontology-terms`.
    pub fn from_store(store: &Store) -> Result<Self> {
        let runner = SparqlRunner::new(store);
        let (_, rows) = runner.select(named_query("ontology-terms")?.text, &[])?;
        let terms: HashSet<Term> = rows.into_iter().filter_map(|r| r[0].clone()).collect();
        let (_, rows) = runner.select(named_query("labels")?.text, &[])?;
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut labels: Vec<Label> = Vec::new();
        for row in rows {
            let (Some(entity), Some(Term::Literal(label))) = (&row[0], &row[1]) else {
                continue;
            };
            let term = terms.contains(entity);
            let Ok(entity) = NamedOrBlankNode::try_from(entity.clone()) else {
                continue;
            };
            let key = normalize(label.value());
            if key.is_empty() {
                continue;
            }
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                labels.push(Label {
                    key,
                    entities: Vec::new(),
                });
                labels.len() - 1
            });
            if !labels[slot].entities.iter().any(|e| e.entity == entity) {
                labels[slot].entities.push(Labelled {
                    entity,
                    written: label.value().to_owned(),
                    term,
                });
            }
        }
        if labels.is_empty() {
            return Err(Error::Data(
                "the store has no labelled entities (rdfs:label, skos:prefLabel or schema:name): nothing to link questions to".into(),
            ));
        }
        let scanned: Vec<usize> = (0..labels.len())
            .filter(|&i| labels[i].names_instance())
            .collect();
        // Standard semantics: every occurrence is reported, the longest wins later.
        let automaton = AhoCorasick::new(scanned.iter().map(|&i| labels[i].key.as_str()))
            .map_err(|e| Error::Data(format!("label automaton: {e}")))?;
        Ok(Self {
            labels,
            index,
            scanned,
            automaton,
        })
    }

    pub fn label_count(&self) -> usize {
        self.labels.len()
    }

    /// The entities with this label (after normalisation): its instances,
    /// or its classes and properties if it names no instance; if some have
    /// it exactly as written, only those.
    pub fn lookup(&self, label: &str) -> Vec<NamedOrBlankNode> {
        self.index
            .get(&normalize(label))
            .map_or_else(Vec::new, |&i| self.labels[i].candidates(label))
    }

    /// The mentions of a question: its bracketed spans if it has any (each
    /// must be a label, of an instance or a term), else the longest label
    /// of an instance in it.
    pub fn mentions(&self, question: &str) -> Result<Vec<Mention>> {
        self.mentions_skipping(question, &HashSet::new())
    }

    /// [`Self::mentions`], but without brackets an instance label among
    /// `question_words` (see [`Self::question_words`]) is taken only when
    /// the question names no other instance.
    pub fn mentions_skipping(
        &self,
        question: &str,
        question_words: &HashSet<String>,
    ) -> Result<Vec<Mention>> {
        let chars: Vec<char> = question.chars().collect();
        let bracketed = bracket_spans(&chars)?;
        if !bracketed.is_empty() {
            return bracketed
                .into_iter()
                .map(|(start, end)| {
                    let text: String = chars[start..end].iter().collect();
                    let candidates = self.lookup(&text);
                    if candidates.is_empty() {
                        return Err(self.unknown(&text, true));
                    }
                    Ok(Mention {
                        start,
                        end,
                        text,
                        candidates,
                    })
                })
                .collect();
        }
        let found = self.matches(&chars);
        let topical: Vec<&Found> = found
            .iter()
            .filter(|f| !question_words.contains(&self.labels[f.label].key))
            .collect();
        let pool = if topical.is_empty() {
            found.iter().collect()
        } else {
            topical
        };
        // The longest; of equally long ones, the first.
        let Some(best) = pool
            .into_iter()
            .min_by_key(|f| (std::cmp::Reverse(f.end - f.start), f.start))
        else {
            return Err(self.unknown(question, false));
        };
        let text: String = chars[best.start..best.end].iter().collect();
        Ok(vec![Mention {
            start: best.start,
            end: best.end,
            candidates: self.labels[best.label].candidates(&text),
            text,
        }])
    }

    /// The instance labels that bracketed questions use as ordinary words:
    /// found outside the brackets at least twice, and more often than
    /// bracketed. In MetaQA a film is called "Director", and "which films
    /// share the director of Heat" is about Heat.
    pub fn question_words<'a>(&self, bracketed: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let (mut outside, mut inside) = (HashMap::new(), HashMap::new());
        for question in bracketed {
            let chars: Vec<char> = question.chars().collect();
            let Ok(spans) = bracket_spans(&chars) else {
                continue;
            };
            if spans.is_empty() {
                continue;
            }
            let mut at = 0;
            for &(start, end) in &spans {
                for f in self.matches(&chars[at..start.saturating_sub(1)]) {
                    *outside.entry(f.label).or_insert(0usize) += 1;
                }
                let text: String = chars[start..end].iter().collect();
                if let Some(&label) = self.index.get(&normalize(&text)) {
                    *inside.entry(label).or_insert(0usize) += 1;
                }
                at = (end + 1).min(chars.len());
            }
            for f in self.matches(&chars[at..]) {
                *outside.entry(f.label).or_insert(0usize) += 1;
            }
        }
        let mut words: Vec<String> = outside
            .into_iter()
            .filter(|&(label, n)| n >= 2 && n > inside.get(&label).copied().unwrap_or(0))
            .map(|(label, _)| self.labels[label].key.clone())
            .collect();
        words.sort();
        words
    }

    /// Whether `topics`, linked without brackets, are exactly the entities
    /// `bracketed` (the same question with brackets) names; `None` when it
    /// has no brackets or one names no entity of the store.
    pub fn agrees_with_brackets(
        &self,
        bracketed: &str,
        topics: &[NamedOrBlankNode],
    ) -> Option<bool> {
        let chars: Vec<char> = bracketed.chars().collect();
        let spans = bracket_spans(&chars).ok()?;
        if spans.is_empty() {
            return None;
        }
        let mut wanted = Vec::new();
        for (start, end) in spans {
            let candidates = self.lookup(&chars[start..end].iter().collect::<String>());
            if candidates.is_empty() {
                return None;
            }
            wanted.push(candidates);
        }
        Some(
            topics.len() == wanted.len()
                && wanted.iter().all(|c| topics.iter().any(|t| c.contains(t)))
                && topics.iter().all(|t| wanted.iter().any(|c| c.contains(t))),
        )
    }

    /// Every instance label in the text at word boundaries (overlapping
    /// ones too), found over the normalised text and mapped back to the
    /// original's character offsets.
    fn matches(&self, chars: &[char]) -> Vec<Found> {
        // Normalise character by character so offsets map back.
        let mut text = String::new();
        let mut origin: Vec<usize> = Vec::new(); // byte of `text` -> char of the question
        let mut last_space = true;
        for (i, c) in chars.iter().enumerate() {
            let piece = normalize(&c.to_string());
            let piece = if c.is_whitespace() {
                " ".to_owned()
            } else {
                piece
            };
            if piece == " " && last_space {
                continue;
            }
            last_space = piece == " ";
            for _ in 0..piece.len() {
                origin.push(i);
            }
            text.push_str(&piece);
        }
        origin.push(chars.len());
        let boundary = |byte: usize| -> bool {
            let before = text[..byte].chars().next_back();
            let after = text[byte..].chars().next();
            !before.is_some_and(char::is_alphanumeric) || !after.is_some_and(char::is_alphanumeric)
        };
        self.automaton
            .find_overlapping_iter(&text)
            .filter(|m| boundary(m.start()) && boundary(m.end()))
            .map(|m| Found {
                start: origin[m.start()],
                end: origin[m.end() - 1] + 1,
                label: self.scanned[m.pattern().as_usize()],
            })
            .collect()
    }

    /// The error for text that names no entity, with the closest labels:
    /// to the whole of a bracketed text (any label), else to a run of the
    /// question's words (instance labels).
    fn unknown(&self, text: &str, bracketed: bool) -> Error {
        let wanted = normalize(text);
        let words: Vec<String> = wanted.split(' ').map(str::to_owned).collect();
        let mut close: Vec<(f64, &Label)> = self
            .labels
            .iter()
            .filter(|l| bracketed || l.names_instance())
            .map(|l| {
                let score = if bracketed {
                    strsim::normalized_levenshtein(&wanted, &l.key)
                } else {
                    closeness(&words, &l.key)
                };
                (score, l)
            })
            .filter(|(score, _)| *score > 0.5)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0).then(b.1.key.len().cmp(&a.1.key.len())));
        let suggestions: Vec<String> = close
            .iter()
            .take(3)
            .map(|(_, l)| format!("{:?}", l.written()))
            .collect();
        let hint = if suggestions.is_empty() {
            "bracket the entity's exact label, e.g. \"who directed [The Ice Storm]\"".to_owned()
        } else {
            format!("closest labels: {}", suggestions.join(", "))
        };
        let searched = if bracketed {
            self.labels.len()
        } else {
            self.scanned.len()
        };
        Error::InvalidTerm(format!(
            "no entity of the store is named in {text:?} ({searched} labels searched); {hint}"
        ))
    }
}

/// An instance label found in a text: character offsets and its index.
struct Found {
    start: usize,
    end: usize,
    label: usize,
}

/// The best normalised Levenshtein similarity between `label` and a run of
/// `words` with one word more, as many, or one fewer: a misspelt name
/// inside a question is close to its label even when the question is long.
fn closeness(words: &[String], label: &str) -> f64 {
    let n = label.split(' ').count();
    let label_chars = label.chars().count();
    let mut best = 0f64;
    for len in n.saturating_sub(1).max(1)..=(n + 1).min(words.len()) {
        for run in words.windows(len) {
            let window = run.join(" ");
            let window_chars = window.chars().count();
            // The length difference alone bounds the similarity.
            let bound = 1.0
                - window_chars.abs_diff(label_chars) as f64
                    / window_chars.max(label_chars).max(1) as f64;
            if bound > best {
                best = best.max(strsim::normalized_levenshtein(&window, label));
            }
        }
    }
    best
}

/// `[...]` spans as character ranges inside the brackets; an empty pair
/// (`[]`, or only spaces inside) is an error.
fn bracket_spans(chars: &[char]) -> Result<Vec<(usize, usize)>> {
    let mut spans = Vec::new();
    let mut open = None;
    for (i, c) in chars.iter().enumerate() {
        match (c, open) {
            ('[', _) => open = Some(i + 1),
            (']', Some(start)) => {
                if chars[start..i].iter().all(|c| c.is_whitespace()) {
                    return Err(Error::InvalidTerm(format!(
                        "empty brackets at character {start} of {:?}: write the entity's name inside them, e.g. \"who controls [Driftwood Capital AS]\", or leave the brackets out",
                        chars.iter().collect::<String>()
                    )));
                }
                spans.push((start, i));
                open = None;
            }
            _ => {}
        }
    }
    Ok(spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_folds_case_accents_and_space() {
        assert_eq!(normalize("  Amélie\tPOULAIN "), "amelie poulain");
        assert_eq!(
            normalize("Ærø"),
            "ærø",
            "letters without a decomposition stay"
        );
    }

    #[test]
    fn a_misspelt_name_is_close_to_its_label_inside_a_long_question() {
        let words: Vec<String> = normalize("who controls Driftwood Capitol AS")
            .split(' ')
            .map(str::to_owned)
            .collect();
        assert!((closeness(&words, "driftwood capital as") - 0.95).abs() < 1e-9);
        assert_eq!(closeness(&words, "controls"), 1.0);
        assert!(closeness(&words, "norway") < 0.5);
    }

    #[test]
    fn stripping_brackets_keeps_the_text() {
        assert_eq!(
            strip_brackets("who directed [The Ice Storm]?"),
            "who directed The Ice Storm?"
        );
    }

    #[test]
    fn brackets_give_spans() {
        let spans = |q: &str| bracket_spans(&q.chars().collect::<Vec<_>>());
        assert_eq!(
            spans("who is [A] and [Bé c]?").unwrap(),
            vec![(8, 9), (16, 20)]
        );
        assert!(spans("no [ brackets").unwrap().is_empty());
        for empty in ["who controls []", "who controls [  ]"] {
            let error = spans(empty).unwrap_err().to_string();
            assert!(
                error.starts_with("empty brackets at character 14 of"),
                "{error}"
            );
        }
    }
}
