//! The question answerer's adapter: an answer's supporting paths as
//! evidence, run from the answer back to the topic, each with the SELECT
//! that returns the answer; the question's linked mentions as spans.

use oxigraph::model::{Term, Triple};

use super::TextSpan;
use super::{path_step, CheckQuery, Claim, Derivations, EvidencePath, Explanation, QueryForm};
use crate::error::{Error, Result};
use crate::qa::AnswerSet;
use crate::store::Store;

/// How the answerer weighs a path.
const METHOD: &str = "relation-following GNN: each step weighs its relation's probability at its hop (from the question's BERT states); a path weighs their product times its hop weight";

/// Explains answer `answer` (0 for the best) of `set`.
pub fn explain_answer(
    store: &Store,
    set: &AnswerSet,
    answer: usize,
    model_id: &str,
    derivations: &mut Derivations<'_>,
) -> Result<Explanation> {
    let chosen = set.answers.get(answer).ok_or_else(|| {
        Error::InvalidTerm(format!(
            "answer {} asked for, the question has {}",
            answer + 1,
            set.answers.len()
        ))
    })?;
    let mut paths = Vec::new();
    for (rank, p) in chosen.paths.iter().enumerate() {
        let mut steps = Vec::new();
        for (i, step) in p.path.steps.iter().enumerate().rev() {
            let (a, b) = (&p.terms[i], &p.terms[i + 1]);
            let (subject, object, subject_label, object_label) = if step.forward {
                (a, b, &p.labels[i], &p.labels[i + 1])
            } else {
                (b, a, &p.labels[i + 1], &p.labels[i])
            };
            let triple = Triple::new(
                subject.clone(),
                step.predicate.clone(),
                Term::from(object.clone()),
            );
            steps.push(path_step(
                store,
                triple,
                subject_label.clone(),
                object_label.clone(),
                p.path.step_weights[i],
                derivations,
            )?);
        }
        paths.push(EvidencePath {
            rank: rank + 1,
            attribution: p.path.weight,
            steps,
            check: CheckQuery {
                form: QueryForm::Select,
                sparql: p.path.sparql.clone(),
            },
        });
    }
    Ok(Explanation {
        entity: chosen.entity.clone(),
        entity_label: chosen.label.clone(),
        model_id: model_id.to_owned(),
        claim: Claim::Answer {
            question: set.question.clone(),
            score: chosen.score,
        },
        method: METHOD.into(),
        paths,
        spans: set
            .mentions
            .iter()
            .map(|m| TextSpan {
                text: set.question.clone(),
                start: m.start,
                end: m.end,
                source: format!("mention of {}", m.label),
                attribution: None,
            })
            .collect(),
    })
}
