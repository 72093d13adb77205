//! Dense integer ids for RDF terms: the reasoner interns every term once and
//! joins on `u32`s.

use rustc_hash::FxHashMap as HashMap;

use oxigraph::model::{Literal, NamedNode, NamedOrBlankNode, Term, Triple};

/// A triple of term ids: subject, predicate, object.
pub type Ids = [u32; 3];

/// Two-way map between terms and ids.
#[derive(Debug, Default, Clone)]
pub struct Interner {
    terms: Vec<Term>,
    ids: HashMap<Term, u32>,
}

impl Interner {
    pub fn intern(&mut self, term: Term) -> u32 {
        if let Some(id) = self.ids.get(&term) {
            return *id;
        }
        let id = self.terms.len() as u32;
        self.terms.push(term.clone());
        self.ids.insert(term, id);
        id
    }

    pub fn intern_iri(&mut self, iri: &str) -> u32 {
        self.intern(NamedNode::new_unchecked(iri).into())
    }

    pub fn intern_triple(&mut self, triple: Triple) -> Ids {
        [
            self.intern(triple.subject.into()),
            self.intern(triple.predicate.into()),
            self.intern(triple.object),
        ]
    }

    /// Each literal term with its datatype's id (interned here), for
    /// dt-type2.
    pub fn literal_datatypes(&mut self) -> Vec<(u32, u32)> {
        let literals: Vec<(u32, NamedNode)> = self
            .terms
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t {
                Term::Literal(l) => Some((i as u32, l.datatype().into_owned())),
                _ => None,
            })
            .collect();
        literals
            .into_iter()
            .map(|(id, datatype)| (id, self.intern(datatype.into())))
            .collect()
    }

    pub fn get(&self, term: &Term) -> Option<u32> {
        self.ids.get(term).copied()
    }

    pub fn term(&self, id: u32) -> &Term {
        &self.terms[id as usize]
    }

    pub fn is_literal(&self, id: u32) -> bool {
        matches!(self.terms[id as usize], Term::Literal(_))
    }

    pub fn is_iri(&self, id: u32) -> bool {
        matches!(self.terms[id as usize], Term::NamedNode(_))
    }

    pub fn literal(&self, id: u32) -> Option<&Literal> {
        match &self.terms[id as usize] {
            Term::Literal(l) => Some(l),
            _ => None,
        }
    }

    /// The triple of an id triple; `None` if it is not valid RDF (a literal
    /// subject or a non-IRI predicate), which rules may produce and we drop.
    pub fn triple(&self, ids: Ids) -> Option<Triple> {
        let subject = NamedOrBlankNode::try_from(self.term(ids[0]).clone()).ok()?;
        let Term::NamedNode(predicate) = self.term(ids[1]) else {
            return None;
        };
        Some(Triple::new(
            subject,
            predicate.clone(),
            self.term(ids[2]).clone(),
        ))
    }

    /// Whether an id triple is valid RDF.
    pub fn is_valid(&self, ids: Ids) -> bool {
        !self.is_literal(ids[0]) && self.is_iri(ids[1])
    }

    /// Numeric value of a literal id, for cardinality restrictions.
    pub fn number(&self, id: u32) -> Option<i64> {
        self.literal(id)?.value().trim().parse().ok()
    }
}
