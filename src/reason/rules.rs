//! The rule set, in one place. Pattern rules are table rows in a small text
//! syntax that mirrors the OWL 2 RL specification's tables
//! (<https://www.w3.org/TR/owl2-profiles/#OWL_2_RL>): body atoms and filters
//! separated by ` . `, then `=>` and the head atoms, or `false` for a rule
//! that detects an inconsistency. Rules over RDF lists (intersections,
//! unions, property chains, keys, all-disjoint and all-different axioms) are
//! small functions in `list_rules`.
//!
//! Equality (`eq-sym`, `eq-trans`, `eq-rep-s/p/o`) is not in the table: the
//! engine keeps `owl:sameAs` in a union-find and rewrites triples to one
//! representative per class. Of the datatype rules only `dt-type2` runs (in
//! the engine: each literal of the input is of its datatype); the engine
//! keeps `rdf:type` triples with a literal subject, which RDF cannot hold,
//! for rules such as `cls-svf1` and never outputs them. `eq-ref` is left out.

/// Which rule set to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Profile {
    /// RDF Schema entailment (rdf1, rdfs2–rdfs13 except rdfs1 and rdfs4).
    Rdfs,
    /// OWL 2 RL/RDF rules.
    OwlRl,
}

impl Profile {
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "rdfs" => Some(Self::Rdfs),
            "owl-rl" | "owlrl" | "owl2rl" => Some(Self::OwlRl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Rdfs => "rdfs",
            Self::OwlRl => "owl-rl",
        }
    }
}

/// A pattern rule: name, profile, text.
pub struct RuleRow {
    pub name: &'static str,
    pub profile: Profile,
    pub text: &'static str,
}

const fn row(name: &'static str, profile: Profile, text: &'static str) -> RuleRow {
    RuleRow {
        name,
        profile,
        text,
    }
}

use Profile::{OwlRl as O, Rdfs as R};

/// Every pattern rule. An empty body is an axiom, stated once.
pub const PATTERN_RULES: &[RuleRow] = &[
    // RDF and RDFS entailment (RDF 1.1 Semantics, section 9.2).
    row("rdfs-axioms", R, "=> rdfs:domain rdfs:domain rdf:Property . rdfs:range rdfs:domain rdf:Property . rdfs:subPropertyOf rdfs:domain rdf:Property . rdfs:subClassOf rdfs:domain rdfs:Class . rdf:type rdfs:range rdfs:Class . rdfs:domain rdfs:range rdfs:Class . rdfs:range rdfs:range rdfs:Class . rdfs:subPropertyOf rdfs:range rdf:Property . rdfs:subClassOf rdfs:range rdfs:Class"),
    row("rdf1", R, "?x ?p ?y => ?p rdf:type rdf:Property"),
    row("rdfs2", R, "?p rdfs:domain ?c . ?x ?p ?y => ?x rdf:type ?c"),
    row("rdfs3", R, "?p rdfs:range ?c . ?x ?p ?y => ?y rdf:type ?c"),
    row("rdfs5", R, "?p rdfs:subPropertyOf ?q . ?q rdfs:subPropertyOf ?r => ?p rdfs:subPropertyOf ?r"),
    row("rdfs6", R, "?p rdf:type rdf:Property => ?p rdfs:subPropertyOf ?p"),
    row("rdfs7", R, "?p rdfs:subPropertyOf ?q . ?x ?p ?y => ?x ?q ?y"),
    row("rdfs8", R, "?c rdf:type rdfs:Class => ?c rdfs:subClassOf rdfs:Resource"),
    row("rdfs9", R, "?c rdfs:subClassOf ?d . ?x rdf:type ?c => ?x rdf:type ?d"),
    row("rdfs10", R, "?c rdf:type rdfs:Class => ?c rdfs:subClassOf ?c"),
    row("rdfs11", R, "?c rdfs:subClassOf ?d . ?d rdfs:subClassOf ?e => ?c rdfs:subClassOf ?e"),
    row("rdfs12", R, "?p rdf:type rdfs:ContainerMembershipProperty => ?p rdfs:subPropertyOf rdfs:member"),
    row("rdfs13", R, "?d rdf:type rdfs:Datatype => ?d rdfs:subClassOf rdfs:Literal"),
    // OWL 2 RL, table 4: equality (the rest is the engine's union-find).
    row("eq-diff1", O, "?x owl:differentFrom ?x => false"),
    // Table 5: properties.
    row("prp-ap", O, "=> rdfs:label rdf:type owl:AnnotationProperty . rdfs:comment rdf:type owl:AnnotationProperty . rdfs:seeAlso rdf:type owl:AnnotationProperty . rdfs:isDefinedBy rdf:type owl:AnnotationProperty . owl:deprecated rdf:type owl:AnnotationProperty . owl:versionInfo rdf:type owl:AnnotationProperty . owl:priorVersion rdf:type owl:AnnotationProperty . owl:backwardCompatibleWith rdf:type owl:AnnotationProperty . owl:incompatibleWith rdf:type owl:AnnotationProperty"),
    row("prp-dom", O, "?p rdfs:domain ?c . ?x ?p ?y => ?x rdf:type ?c"),
    row("prp-rng", O, "?p rdfs:range ?c . ?x ?p ?y => ?y rdf:type ?c"),
    row("prp-fp", O, "?p rdf:type owl:FunctionalProperty . ?x ?p ?y1 . ?x ?p ?y2 . ?y1 != ?y2 => ?y1 owl:sameAs ?y2"),
    row("prp-ifp", O, "?p rdf:type owl:InverseFunctionalProperty . ?x1 ?p ?y . ?x2 ?p ?y . ?x1 != ?x2 => ?x1 owl:sameAs ?x2"),
    row("prp-irp", O, "?p rdf:type owl:IrreflexiveProperty . ?x ?p ?x => false"),
    row("prp-symp", O, "?p rdf:type owl:SymmetricProperty . ?x ?p ?y => ?y ?p ?x"),
    row("prp-asyp", O, "?p rdf:type owl:AsymmetricProperty . ?x ?p ?y . ?y ?p ?x => false"),
    row("prp-trp", O, "?p rdf:type owl:TransitiveProperty . ?x ?p ?y . ?y ?p ?z => ?x ?p ?z"),
    row("prp-spo1", O, "?p1 rdfs:subPropertyOf ?p2 . ?x ?p1 ?y => ?x ?p2 ?y"),
    row("prp-eqp1", O, "?p1 owl:equivalentProperty ?p2 . ?x ?p1 ?y => ?x ?p2 ?y"),
    row("prp-eqp2", O, "?p1 owl:equivalentProperty ?p2 . ?x ?p2 ?y => ?x ?p1 ?y"),
    row("prp-pdw", O, "?p1 owl:propertyDisjointWith ?p2 . ?x ?p1 ?y . ?x ?p2 ?y => false"),
    row("prp-inv1", O, "?p1 owl:inverseOf ?p2 . ?x ?p1 ?y => ?y ?p2 ?x"),
    row("prp-inv2", O, "?p1 owl:inverseOf ?p2 . ?x ?p2 ?y => ?y ?p1 ?x"),
    row("prp-npa1", O, "?x owl:sourceIndividual ?i1 . ?x owl:assertionProperty ?p . ?x owl:targetIndividual ?i2 . ?i1 ?p ?i2 => false"),
    row("prp-npa2", O, "?x owl:sourceIndividual ?i . ?x owl:assertionProperty ?p . ?x owl:targetValue ?lt . ?i ?p ?lt => false"),
    // Table 6: classes.
    row("cls-thing", O, "=> owl:Thing rdf:type owl:Class"),
    row("cls-nothing1", O, "=> owl:Nothing rdf:type owl:Class"),
    row("cls-nothing2", O, "?x rdf:type owl:Nothing => false"),
    row("cls-com", O, "?c1 owl:complementOf ?c2 . ?x rdf:type ?c1 . ?x rdf:type ?c2 => false"),
    row("cls-svf1", O, "?x owl:someValuesFrom ?y . ?x owl:onProperty ?p . ?u ?p ?v . ?v rdf:type ?y => ?u rdf:type ?x"),
    row("cls-svf2", O, "?x owl:someValuesFrom owl:Thing . ?x owl:onProperty ?p . ?u ?p ?v => ?u rdf:type ?x"),
    row("cls-avf", O, "?x owl:allValuesFrom ?y . ?x owl:onProperty ?p . ?u rdf:type ?x . ?u ?p ?v => ?v rdf:type ?y"),
    row("cls-hv1", O, "?x owl:hasValue ?y . ?x owl:onProperty ?p . ?u rdf:type ?x => ?u ?p ?y"),
    row("cls-hv2", O, "?x owl:hasValue ?y . ?x owl:onProperty ?p . ?u ?p ?y => ?u rdf:type ?x"),
    row("cls-maxc1", O, "?x owl:maxCardinality ?n . ?n = 0 . ?x owl:onProperty ?p . ?u rdf:type ?x . ?u ?p ?y => false"),
    row("cls-maxc2", O, "?x owl:maxCardinality ?n . ?n = 1 . ?x owl:onProperty ?p . ?u rdf:type ?x . ?u ?p ?y1 . ?u ?p ?y2 . ?y1 != ?y2 => ?y1 owl:sameAs ?y2"),
    row("cls-maxqc1", O, "?x owl:maxQualifiedCardinality ?n . ?n = 0 . ?x owl:onProperty ?p . ?x owl:onClass ?c . ?u rdf:type ?x . ?u ?p ?y . ?y rdf:type ?c => false"),
    row("cls-maxqc2", O, "?x owl:maxQualifiedCardinality ?n . ?n = 0 . ?x owl:onProperty ?p . ?x owl:onClass owl:Thing . ?u rdf:type ?x . ?u ?p ?y => false"),
    row("cls-maxqc3", O, "?x owl:maxQualifiedCardinality ?n . ?n = 1 . ?x owl:onProperty ?p . ?x owl:onClass ?c . ?u rdf:type ?x . ?u ?p ?y1 . ?y1 rdf:type ?c . ?u ?p ?y2 . ?y2 rdf:type ?c . ?y1 != ?y2 => ?y1 owl:sameAs ?y2"),
    row("cls-maxqc4", O, "?x owl:maxQualifiedCardinality ?n . ?n = 1 . ?x owl:onProperty ?p . ?x owl:onClass owl:Thing . ?u rdf:type ?x . ?u ?p ?y1 . ?u ?p ?y2 . ?y1 != ?y2 => ?y1 owl:sameAs ?y2"),
    // Table 7: class axioms.
    row("cax-sco", O, "?c1 rdfs:subClassOf ?c2 . ?x rdf:type ?c1 => ?x rdf:type ?c2"),
    row("cax-eqc1", O, "?c1 owl:equivalentClass ?c2 . ?x rdf:type ?c1 => ?x rdf:type ?c2"),
    row("cax-eqc2", O, "?c1 owl:equivalentClass ?c2 . ?x rdf:type ?c2 => ?x rdf:type ?c1"),
    row("cax-dw", O, "?c1 owl:disjointWith ?c2 . ?x rdf:type ?c1 . ?x rdf:type ?c2 => false"),
    // Table 9: the schema vocabulary.
    row("scm-cls", O, "?c rdf:type owl:Class => ?c rdfs:subClassOf ?c . ?c owl:equivalentClass ?c . ?c rdfs:subClassOf owl:Thing . owl:Nothing rdfs:subClassOf ?c"),
    row("scm-sco", O, "?c1 rdfs:subClassOf ?c2 . ?c2 rdfs:subClassOf ?c3 => ?c1 rdfs:subClassOf ?c3"),
    row("scm-eqc1", O, "?c1 owl:equivalentClass ?c2 => ?c1 rdfs:subClassOf ?c2 . ?c2 rdfs:subClassOf ?c1"),
    row("scm-eqc2", O, "?c1 rdfs:subClassOf ?c2 . ?c2 rdfs:subClassOf ?c1 => ?c1 owl:equivalentClass ?c2"),
    row("scm-op", O, "?p rdf:type owl:ObjectProperty => ?p rdfs:subPropertyOf ?p . ?p owl:equivalentProperty ?p"),
    row("scm-dp", O, "?p rdf:type owl:DatatypeProperty => ?p rdfs:subPropertyOf ?p . ?p owl:equivalentProperty ?p"),
    row("scm-spo", O, "?p1 rdfs:subPropertyOf ?p2 . ?p2 rdfs:subPropertyOf ?p3 => ?p1 rdfs:subPropertyOf ?p3"),
    row("scm-eqp1", O, "?p1 owl:equivalentProperty ?p2 => ?p1 rdfs:subPropertyOf ?p2 . ?p2 rdfs:subPropertyOf ?p1"),
    row("scm-eqp2", O, "?p1 rdfs:subPropertyOf ?p2 . ?p2 rdfs:subPropertyOf ?p1 => ?p1 owl:equivalentProperty ?p2"),
    row("scm-dom1", O, "?p rdfs:domain ?c1 . ?c1 rdfs:subClassOf ?c2 => ?p rdfs:domain ?c2"),
    row("scm-dom2", O, "?p2 rdfs:domain ?c . ?p1 rdfs:subPropertyOf ?p2 => ?p1 rdfs:domain ?c"),
    row("scm-rng1", O, "?p rdfs:range ?c1 . ?c1 rdfs:subClassOf ?c2 => ?p rdfs:range ?c2"),
    row("scm-rng2", O, "?p2 rdfs:range ?c . ?p1 rdfs:subPropertyOf ?p2 => ?p1 rdfs:range ?c"),
    row("scm-hv", O, "?c1 owl:hasValue ?i . ?c1 owl:onProperty ?p1 . ?c2 owl:hasValue ?i . ?c2 owl:onProperty ?p2 . ?p1 rdfs:subPropertyOf ?p2 => ?c1 rdfs:subClassOf ?c2"),
    row("scm-svf1", O, "?c1 owl:someValuesFrom ?y1 . ?c1 owl:onProperty ?p . ?c2 owl:someValuesFrom ?y2 . ?c2 owl:onProperty ?p . ?y1 rdfs:subClassOf ?y2 => ?c1 rdfs:subClassOf ?c2"),
    row("scm-svf2", O, "?c1 owl:someValuesFrom ?y . ?c1 owl:onProperty ?p1 . ?c2 owl:someValuesFrom ?y . ?c2 owl:onProperty ?p2 . ?p1 rdfs:subPropertyOf ?p2 => ?c1 rdfs:subClassOf ?c2"),
    row("scm-avf1", O, "?c1 owl:allValuesFrom ?y1 . ?c1 owl:onProperty ?p . ?c2 owl:allValuesFrom ?y2 . ?c2 owl:onProperty ?p . ?y1 rdfs:subClassOf ?y2 => ?c1 rdfs:subClassOf ?c2"),
    row("scm-avf2", O, "?c1 owl:allValuesFrom ?y . ?c1 owl:onProperty ?p1 . ?c2 owl:allValuesFrom ?y . ?c2 owl:onProperty ?p2 . ?p1 rdfs:subPropertyOf ?p2 => ?c2 rdfs:subClassOf ?c1"),
];

/// Rules implemented as functions over RDF lists (see `list_rules`), by profile.
pub const LIST_RULES: &[(&str, Profile)] = &[
    ("prp-spo2", O),
    ("prp-key", O),
    ("prp-adp", O),
    ("cls-int1", O),
    ("cls-int2", O),
    ("cls-uni", O),
    ("cls-oo", O),
    ("cax-adc", O),
    ("eq-diff2", O),
    ("eq-diff3", O),
    ("scm-int", O),
    ("scm-uni", O),
];

/// Rules that the engine implements itself, named for derivations.
pub const ENGINE_RULES: &[&str] = &["eq-sym", "eq-trans", "eq-rep-s", "eq-rep-p", "eq-rep-o"];

/// Prefixes of the rule syntax.
pub const RULE_PREFIXES: &[(&str, &str)] = &[
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("owl", "http://www.w3.org/2002/07/owl#"),
];
