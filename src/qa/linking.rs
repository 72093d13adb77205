//! `EntityLinker`: finds the entities a question mentions. A bracketed span
//! (`[Christina Ricci]`, the MetaQA convention) names its entity directly;
//! otherwise the longest label matches are taken, found by one Aho-Corasick
//! automaton over every label of the store, built once. Matching is case-
//! and accent-insensitive and only at word boundaries.

use std::collections::HashMap;

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

/// The store's labels, and an automaton over their normalised forms.
pub struct EntityLinker {
    /// Normalised label -> entities with their labels as written, in the
    /// automaton's pattern order.
    patterns: Vec<(String, Vec<(NamedOrBlankNode, String)>)>,
    index: HashMap<String, usize>,
    automaton: AhoCorasick,
}

impl EntityLinker {
    /// Reads every label with the named query `labels`.
    pub fn from_store(store: &Store) -> Result<Self> {
        let (_, rows) = SparqlRunner::new(store).select(named_query("labels")?.text, &[])?;
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut patterns: Vec<(String, Vec<(NamedOrBlankNode, String)>)> = Vec::new();
        for row in rows {
            let (Some(entity), Some(Term::Literal(label))) = (&row[0], &row[1]) else {
                continue;
            };
            let Ok(entity) = NamedOrBlankNode::try_from(entity.clone()) else {
                continue;
            };
            let key = normalize(label.value());
            if key.is_empty() {
                continue;
            }
            let slot = *index.entry(key.clone()).or_insert_with(|| {
                patterns.push((key, Vec::new()));
                patterns.len() - 1
            });
            if !patterns[slot].1.iter().any(|(e, _)| e == &entity) {
                patterns[slot].1.push((entity, label.value().to_owned()));
            }
        }
        if patterns.is_empty() {
            return Err(Error::Model(
                "the store has no labelled entities (rdfs:label, skos:prefLabel or schema:name): nothing to link questions to".into(),
            ));
        }
        // Standard semantics: every occurrence is reported, the longest wins later.
        let automaton = AhoCorasick::new(patterns.iter().map(|p| p.0.as_str()))
            .map_err(|e| Error::Model(format!("label automaton: {e}")))?;
        Ok(Self {
            patterns,
            index,
            automaton,
        })
    }

    pub fn label_count(&self) -> usize {
        self.patterns.len()
    }

    /// The entities with this label (after normalisation); if some have it
    /// exactly as written, only those.
    pub fn lookup(&self, label: &str) -> Vec<NamedOrBlankNode> {
        self.index
            .get(&normalize(label))
            .map_or_else(Vec::new, |&i| preferring_exact(&self.patterns[i].1, label))
    }

    /// The mentions of a question: its bracketed spans if it has any (each
    /// must be a label), else the longest label matches at word boundaries.
    pub fn mentions(&self, question: &str) -> Result<Vec<Mention>> {
        let chars: Vec<char> = question.chars().collect();
        let bracketed = bracket_spans(&chars);
        if !bracketed.is_empty() {
            return bracketed
                .into_iter()
                .map(|(start, end)| {
                    let text: String = chars[start..end].iter().collect();
                    let candidates = self.lookup(&text);
                    if candidates.is_empty() {
                        return Err(self.unknown(&text));
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
        let found = self.scan(&chars);
        if found.is_empty() {
            return Err(self.unknown(question));
        }
        Ok(found)
    }

    /// Longest matches over the normalised question, mapped back to the
    /// original's character offsets; a match must start and end at word
    /// boundaries. Of overlapping matches the longest wins.
    fn scan(&self, chars: &[char]) -> Vec<Mention> {
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
        // Every label occurrence at word boundaries, then the longest first.
        let mut hits: Vec<(usize, usize, usize)> = self
            .automaton
            .find_overlapping_iter(&text)
            .filter(|m| boundary(m.start()) && boundary(m.end()))
            .map(|m| (m.start(), m.end(), m.pattern().as_usize()))
            .collect();
        hits.sort_by_key(|&(s, e, _)| (std::cmp::Reverse(e - s), s));
        let mut taken: Vec<(usize, usize)> = Vec::new();
        let mut mentions = Vec::new();
        for (s, e, pattern) in hits {
            if taken.iter().any(|&(a, b)| s < b && a < e) {
                continue;
            }
            taken.push((s, e));
            let (start, end) = (origin[s], origin[e - 1] + 1);
            let text: String = chars[start..end].iter().collect();
            mentions.push(Mention {
                start,
                end,
                candidates: preferring_exact(&self.patterns[pattern].1, &text),
                text,
            });
        }
        mentions.sort_by_key(|m| m.start);
        mentions
    }

    /// The error for text that names no entity, with the closest labels.
    fn unknown(&self, text: &str) -> Error {
        let wanted = normalize(text);
        let mut close: Vec<(f64, &str)> = self
            .patterns
            .iter()
            .map(|(label, _)| {
                (
                    strsim::normalized_levenshtein(&wanted, label),
                    label.as_str(),
                )
            })
            .filter(|(score, _)| *score > 0.5)
            .collect();
        close.sort_by(|a, b| b.0.total_cmp(&a.0));
        let suggestions: Vec<String> = close
            .iter()
            .take(3)
            .map(|(_, l)| format!("{l:?}"))
            .collect();
        let hint = if suggestions.is_empty() {
            "bracket the entity's exact label, e.g. \"who directed [The Ice Storm]\"".to_owned()
        } else {
            format!("closest labels: {}", suggestions.join(", "))
        };
        Error::InvalidTerm(format!(
            "no entity of the store is named in {text:?} ({} labels searched); {hint}",
            self.patterns.len()
        ))
    }
}

/// The entities whose label is exactly `text`, or all when none is.
fn preferring_exact(entities: &[(NamedOrBlankNode, String)], text: &str) -> Vec<NamedOrBlankNode> {
    let exact: Vec<NamedOrBlankNode> = entities
        .iter()
        .filter(|(_, l)| l == text)
        .map(|(e, _)| e.clone())
        .collect();
    if exact.is_empty() {
        entities.iter().map(|(e, _)| e.clone()).collect()
    } else {
        exact
    }
}

/// `[...]` spans as character ranges inside the brackets.
fn bracket_spans(chars: &[char]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut open = None;
    for (i, c) in chars.iter().enumerate() {
        match (c, open) {
            ('[', _) => open = Some(i + 1),
            (']', Some(start)) if i > start => {
                spans.push((start, i));
                open = None;
            }
            _ => {}
        }
    }
    spans
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
    fn brackets_give_spans() {
        let chars: Vec<char> = "who is [A] and [Bé c]?".chars().collect();
        assert_eq!(bracket_spans(&chars), vec![(8, 9), (16, 20)]);
        assert!(bracket_spans(&"no [ brackets".chars().collect::<Vec<_>>()).is_empty());
    }
}
