//! Question sets in the MetaQA format, `question with the [topic]<TAB>a1|a2`,
//! read from files or generated from a store's own relations with templates
//! (the way MetaQA was built from WikiMovies), so any graph can train a
//! question answerer without external data.

use std::collections::BTreeMap;
use std::path::Path;

use oxigraph::model::{NamedNode, Term};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::path::{path_query, Step};
use crate::error::{Error, Result};
use crate::store::query::SparqlRunner;
use crate::store::Store;

/// One question and its gold answers (entity labels).
#[derive(Debug, Clone, PartialEq)]
pub struct Question {
    pub text: String,
    pub answers: Vec<String>,
}

/// Reads `question<TAB>answer1|answer2` lines; blank lines are skipped and
/// errors name the file, line and column.
pub fn read_questions(path: &Path) -> Result<Vec<Question>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut questions = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let syntax = |column: usize, message: &str| Error::Syntax {
            path: path.to_owned(),
            line: i as u64 + 1,
            column: column as u64,
            message: message.to_owned(),
        };
        let Some((question, answers)) = line.split_once('\t') else {
            return Err(syntax(
                line.chars().count() + 1,
                "expected question<TAB>answer1|answer2|…, found no tab",
            ));
        };
        let answers: Vec<String> = answers
            .split('|')
            .map(|a| a.trim().to_owned())
            .filter(|a| !a.is_empty())
            .collect();
        if answers.is_empty() {
            return Err(syntax(
                question.chars().count() + 2,
                "no answer after the tab",
            ));
        }
        if question.trim().is_empty() {
            return Err(syntax(1, "empty question"));
        }
        questions.push(Question {
            text: question.trim().to_owned(),
            answers,
        });
    }
    Ok(questions)
}

/// Phrasings of one hop, with `{r}` for the relation's label and `{x}` for
/// what the hop starts from. `Forward` reads the triple subject to object.
const FORWARD: [&str; 3] = [
    "what does {x} {r}",
    "which entities does {x} {r}",
    "{x} {r} what",
];
const BACKWARD: [&str; 3] = ["what {r} {x}", "who {r} {x}", "which entities {r} {x}"];

/// How an inner hop names what it reaches.
const INNER_FORWARD: &str = "the ones {x} {r}";
const INNER_BACKWARD: &str = "the ones that {r} {x}";

/// Fills a template chain: the first hop's `{x}` is the bracketed topic,
/// each later hop's is the phrase of the hop before.
fn phrase(steps: &[(Step, String)], variant: usize, topic: &str) -> String {
    let mut x = format!("[{topic}]");
    for (i, (step, relation)) in steps.iter().enumerate() {
        let template = match (i + 1 == steps.len(), step.forward) {
            (true, true) => FORWARD[variant % FORWARD.len()],
            (true, false) => BACKWARD[variant % BACKWARD.len()],
            (false, true) => INNER_FORWARD,
            (false, false) => INNER_BACKWARD,
        };
        x = template.replace("{r}", relation).replace("{x}", &x);
    }
    x
}

/// How many questions to generate.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// Topic entities per relation path.
    pub per_path: usize,
    /// Paths whose topics have more answers are skipped for those topics.
    pub max_answers: usize,
    /// 2-hop paths drawn from all pairs of relations that meet.
    pub two_hop_paths: usize,
    pub seed: u64,
}

/// Generates 1- and 2-hop questions over the store's labelled relations
/// (kgfuse's own prediction triples and `rdf:type` left out): for every
/// relation in each direction and for a sample of pairs that meet at a node,
/// up to `per_path` topic entities, with every entity the path reaches as
/// the answers (the topic itself never). Returns `(hops, question)`.
pub fn generate_questions(
    store: &Store,
    options: GenerateOptions,
) -> Result<Vec<(usize, Question)>> {
    let runner = SparqlRunner::new(store);
    let relations_query = "SELECT ?p (SAMPLE(?l) AS ?label) WHERE {
        ?s ?p ?o . FILTER(isIRI(?o) && isIRI(?s) && ?p != rdf:type && !STRSTARTS(STR(?p), STR(kgfuse:)))
        ?s rdfs:label ?sl . ?o rdfs:label ?ol .
        OPTIONAL { ?p rdfs:label ?l }
      } GROUP BY ?p ORDER BY ?p";
    let (_, rows) = runner.select(relations_query, &[])?;
    let relations: Vec<(NamedNode, String)> = rows
        .iter()
        .filter_map(|r| match (&r[0], &r[1]) {
            (Some(Term::NamedNode(p)), Some(Term::Literal(l))) => {
                Some((p.clone(), l.value().to_owned()))
            }
            (Some(Term::NamedNode(p)), None) => Some((p.clone(), local_name(p.as_str()))),
            _ => None,
        })
        .collect();
    let mut paths: Vec<Vec<(Step, String)>> = Vec::new();
    for (p, label) in &relations {
        for forward in [true, false] {
            paths.push(vec![(
                Step {
                    predicate: p.clone(),
                    forward,
                },
                label.clone(),
            )]);
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut pairs = Vec::new();
    for first in &paths {
        for second in &paths {
            let same_edge_back = first[0].0.predicate == second[0].0.predicate
                && first[0].0.forward != second[0].0.forward;
            if !same_edge_back {
                pairs.push(vec![first[0].clone(), second[0].clone()]);
            }
        }
    }
    pairs.shuffle(&mut rng);
    let mut questions = Vec::new();
    let mut two_hop_paths = 0;
    for path in paths.into_iter().chain(pairs) {
        if path.len() == 2 && two_hop_paths == options.two_hop_paths {
            break;
        }
        let steps: Vec<Step> = path.iter().map(|s| s.0.clone()).collect();
        let query = format!(
            "SELECT ?topic ?tl ?al WHERE {{ {{ {} }} ?topic rdfs:label ?tl . ?answer rdfs:label ?al . FILTER(?answer != ?topic) }}",
            path_query(&steps, "?topic")
        );
        let (_, rows) = runner.select(&query, &[])?;
        let mut by_topic: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for row in rows {
            if let (Some(Term::Literal(t)), Some(Term::Literal(a))) = (&row[1], &row[2]) {
                let answers = by_topic.entry(t.value().to_owned()).or_default();
                if !answers.contains(&a.value().to_owned()) {
                    answers.push(a.value().to_owned());
                }
            }
        }
        let mut topics: Vec<(String, Vec<String>)> = by_topic
            .into_iter()
            .filter(|(_, a)| a.len() <= options.max_answers)
            .collect();
        if topics.is_empty() {
            continue;
        }
        two_hop_paths += usize::from(path.len() == 2);
        topics.shuffle(&mut rng);
        for (variant, (topic, mut answers)) in topics.into_iter().take(options.per_path).enumerate()
        {
            answers.sort();
            questions.push((
                path.len(),
                Question {
                    text: phrase(&path, variant, &topic),
                    answers,
                },
            ));
        }
    }
    Ok(questions)
}

fn local_name(iri: &str) -> String {
    iri.rsplit(['#', '/']).next().unwrap_or(iri).to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_metaqa_lines_and_names_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.txt");
        std::fs::write(&path, "who directed [X]\tA|B\n\nwhat [Y]\tC\n").unwrap();
        let qs = read_questions(&path).unwrap();
        assert_eq!(qs.len(), 2);
        assert_eq!(qs[0].answers, vec!["A", "B"]);
        std::fs::write(&path, "fine [X]\tA\nno tab here\n").unwrap();
        let error = read_questions(&path).unwrap_err().to_string();
        assert!(error.contains("q.txt:2:12"), "{error}");
    }

    #[test]
    fn templates_chain_hops() {
        let step = |forward| Step {
            predicate: NamedNode::new("http://e/p").unwrap(),
            forward,
        };
        let one = phrase(&[(step(false), "controls".into())], 0, "Acme");
        assert_eq!(one, "what controls [Acme]");
        let two = phrase(
            &[
                (step(true), "has director".into()),
                (step(false), "director of".into()),
            ],
            0,
            "Acme",
        );
        assert_eq!(two, "what director of the ones [Acme] has director");
    }
}
