//! One test per reasoning rule, each on a minimal ontology that needs it,
//! asserting exactly what the rule infers about the test's own terms
//! (`ex:`); vocabulary axioms about `owl:`/`rdfs:` terms are left out of the
//! comparison. Then the consistency rules, bad input, and the project's own
//! ontology with the sample data.

use std::collections::BTreeSet;

use kgfuse::reason::{Closure, Profile, ReasonOptions, Reasoner};
use oxigraph::io::{RdfFormat, RdfParser};
use oxigraph::model::Triple;

const PREFIXES: &str = "@prefix ex: <http://example.com/> .
@prefix rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#> .
@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .
@prefix owl: <http://www.w3.org/2002/07/owl#> .
";

fn parse(turtle: &str) -> Vec<Triple> {
    RdfParser::from_format(RdfFormat::Turtle)
        .for_slice(format!("{PREFIXES}{turtle}").as_bytes())
        .map(|q| Triple::from(q.expect("test Turtle parses")))
        .collect()
}

fn reason(profile: Profile, turtle: &str) -> Closure {
    let mut reasoner = Reasoner::new(ReasonOptions {
        profile,
        ..ReasonOptions::default()
    });
    reasoner.add(parse(turtle));
    reasoner.run(|_| {}).expect("reasoning finishes")
}

fn own_terms(triples: impl IntoIterator<Item = Triple>) -> BTreeSet<String> {
    triples
        .into_iter()
        .filter(|t| t.subject.to_string().starts_with("<http://example.com/"))
        .map(|t| t.to_string())
        .collect()
}

fn check_rule(profile: Profile, rule: &str, input: &str, expected: &str) {
    let closure = reason(profile, input);
    let inferred = own_terms(closure.inferred_by(rule));
    let expected = own_terms(parse(expected));
    assert_eq!(inferred, expected, "rule {rule}");
    for triple in closure.inferred_by(rule) {
        let tree = closure
            .explain(&triple)
            .expect("every inferred triple has a derivation");
        assert_eq!(tree.rule, Some(rule), "derivation of {triple}");
    }
}

macro_rules! owl_rule {
    ($test:ident, $rule:literal, $input:literal, $expected:literal) => {
        #[test]
        fn $test() {
            check_rule(Profile::OwlRl, $rule, $input, $expected);
        }
    };
}

macro_rules! rdfs_rule {
    ($test:ident, $rule:literal, $input:literal, $expected:literal) => {
        #[test]
        fn $test() {
            check_rule(Profile::Rdfs, $rule, $input, $expected);
        }
    };
}

// RDFS.
rdfs_rule!(
    rdfs2,
    "rdfs2",
    "ex:p rdfs:domain ex:C . ex:x ex:p ex:y .",
    "ex:x a ex:C ."
);
rdfs_rule!(
    rdfs3,
    "rdfs3",
    "ex:p rdfs:range ex:C . ex:x ex:p ex:y .",
    "ex:y a ex:C . ex:C a rdfs:Class ."
);
rdfs_rule!(
    rdfs5,
    "rdfs5",
    "ex:p rdfs:subPropertyOf ex:q . ex:q rdfs:subPropertyOf ex:r .",
    "ex:p rdfs:subPropertyOf ex:r ."
);
rdfs_rule!(
    rdfs6,
    "rdfs6",
    "ex:p a rdf:Property .",
    "ex:p rdfs:subPropertyOf ex:p ."
);
rdfs_rule!(
    rdfs7,
    "rdfs7",
    "ex:p rdfs:subPropertyOf ex:q . ex:x ex:p ex:y .",
    "ex:x ex:q ex:y ."
);
rdfs_rule!(
    rdfs8,
    "rdfs8",
    "ex:C a rdfs:Class .",
    "ex:C rdfs:subClassOf rdfs:Resource ."
);
// The RDFS axioms make A and B classes, hence sub-classes of rdfs:Resource (rdfs8).
rdfs_rule!(
    rdfs9,
    "rdfs9",
    "ex:A rdfs:subClassOf ex:B . ex:x a ex:A .",
    "ex:x a ex:B , rdfs:Resource . ex:A a rdfs:Resource . ex:B a rdfs:Resource ."
);
rdfs_rule!(
    rdfs10,
    "rdfs10",
    "ex:C a rdfs:Class .",
    "ex:C rdfs:subClassOf ex:C ."
);
rdfs_rule!(
    rdfs11,
    "rdfs11",
    "ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:C .",
    "ex:A rdfs:subClassOf ex:C ."
);
rdfs_rule!(
    rdfs12,
    "rdfs12",
    "ex:p a rdfs:ContainerMembershipProperty .",
    "ex:p rdfs:subPropertyOf rdfs:member ."
);
rdfs_rule!(
    rdfs13,
    "rdfs13",
    "ex:d a rdfs:Datatype .",
    "ex:d rdfs:subClassOf rdfs:Literal ."
);
rdfs_rule!(rdf1, "rdf1", "ex:x ex:p ex:y .", "ex:p a rdf:Property .");

// OWL 2 RL: properties.
owl_rule!(
    prp_dom,
    "prp-dom",
    "ex:p rdfs:domain ex:C . ex:x ex:p ex:y .",
    "ex:x a ex:C ."
);
owl_rule!(
    prp_rng,
    "prp-rng",
    "ex:p rdfs:range ex:C . ex:x ex:p ex:y .",
    "ex:y a ex:C ."
);
owl_rule!(
    prp_fp,
    "prp-fp",
    "ex:p a owl:FunctionalProperty . ex:x ex:p ex:a , ex:b .",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:a ."
);
owl_rule!(
    prp_ifp,
    "prp-ifp",
    "ex:p a owl:InverseFunctionalProperty . ex:a ex:p ex:v . ex:b ex:p ex:v .",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:a ."
);
owl_rule!(
    prp_symp,
    "prp-symp",
    "ex:p a owl:SymmetricProperty . ex:a ex:p ex:b .",
    "ex:b ex:p ex:a ."
);
owl_rule!(
    prp_trp,
    "prp-trp",
    "ex:p a owl:TransitiveProperty . ex:a ex:p ex:b . ex:b ex:p ex:c . ex:c ex:p ex:d .",
    "ex:a ex:p ex:c . ex:b ex:p ex:d . ex:a ex:p ex:d ."
);
owl_rule!(
    prp_spo1,
    "prp-spo1",
    "ex:p rdfs:subPropertyOf ex:q . ex:a ex:p ex:b .",
    "ex:a ex:q ex:b ."
);
owl_rule!(prp_spo2, "prp-spo2", "ex:p owl:propertyChainAxiom ( ex:p1 ex:p2 ex:p3 ) . ex:a ex:p1 ex:b . ex:b ex:p2 ex:c . ex:c ex:p3 ex:d , ex:e .",
    "ex:a ex:p ex:d . ex:a ex:p ex:e .");
owl_rule!(
    prp_eqp1,
    "prp-eqp1",
    "ex:p owl:equivalentProperty ex:q . ex:a ex:p ex:b .",
    "ex:a ex:q ex:b ."
);
owl_rule!(
    prp_eqp2,
    "prp-eqp2",
    "ex:p owl:equivalentProperty ex:q . ex:a ex:q ex:b .",
    "ex:a ex:p ex:b ."
);
owl_rule!(
    prp_inv1,
    "prp-inv1",
    "ex:p owl:inverseOf ex:q . ex:a ex:p ex:b .",
    "ex:b ex:q ex:a ."
);
owl_rule!(
    prp_inv2,
    "prp-inv2",
    "ex:p owl:inverseOf ex:q . ex:a ex:q ex:b .",
    "ex:b ex:p ex:a ."
);
owl_rule!(prp_key, "prp-key", "ex:C owl:hasKey ( ex:k1 ex:k2 ) . ex:x a ex:C ; ex:k1 \"1\" ; ex:k2 ex:v . ex:y a ex:C ; ex:k1 \"1\" ; ex:k2 ex:v . ex:z a ex:C ; ex:k1 \"2\" ; ex:k2 ex:v .",
    "ex:x owl:sameAs ex:y . ex:y owl:sameAs ex:x .");

// Classes.
owl_rule!(
    cls_int1,
    "cls-int1",
    "ex:C owl:intersectionOf ( ex:A ex:B ) . ex:x a ex:A , ex:B . ex:y a ex:A .",
    "ex:x a ex:C ."
);
owl_rule!(
    cls_int2,
    "cls-int2",
    "ex:C owl:intersectionOf ( ex:A ex:B ) . ex:x a ex:C .",
    "ex:x a ex:A , ex:B ."
);
owl_rule!(
    cls_uni,
    "cls-uni",
    "ex:C owl:unionOf ( ex:A ex:B ) . ex:x a ex:A . ex:y a ex:B .",
    "ex:x a ex:C . ex:y a ex:C ."
);
owl_rule!(
    cls_oo,
    "cls-oo",
    "ex:C owl:oneOf ( ex:a ex:b ) .",
    "ex:a a ex:C . ex:b a ex:C ."
);
owl_rule!(cls_svf1, "cls-svf1", "ex:R owl:someValuesFrom ex:C ; owl:onProperty ex:p . ex:u ex:p ex:v . ex:v a ex:C . ex:w ex:p ex:z .", "ex:u a ex:R .");
// cls-svf1 over literal values, as OWL 2 RL's rules read generalised RDF:
// a literal is of its datatype (dt-type2) and of its property's range
// (prp-rng); the literal's class itself is never output. FIBO types
// identifiers into `hasTag some xsd:string` and registry entries into
// `hasRegistrationDate some CombinedDateTime` this way.
owl_rule!(
    cls_svf1_over_a_literal_of_the_datatype,
    "cls-svf1",
    "ex:R owl:someValuesFrom <http://www.w3.org/2001/XMLSchema#string> ; owl:onProperty ex:p . ex:u ex:p \"4\" . ex:w ex:p 4 .",
    "ex:u a ex:R ."
);
owl_rule!(
    cls_svf1_over_a_literal_of_the_range,
    "cls-svf1",
    "ex:p rdfs:range ex:Date . ex:R owl:someValuesFrom ex:Date ; owl:onProperty ex:q . ex:q rdfs:subPropertyOf ex:p . ex:u ex:q \"2024-01-01\" .",
    "ex:u a ex:R ."
);

owl_rule!(
    cls_svf2,
    "cls-svf2",
    "ex:R owl:someValuesFrom owl:Thing ; owl:onProperty ex:p . ex:u ex:p ex:v .",
    "ex:u a ex:R ."
);
owl_rule!(cls_avf, "cls-avf", "ex:R owl:allValuesFrom ex:C ; owl:onProperty ex:p . ex:u a ex:R ; ex:p ex:v . ex:w ex:p ex:z .", "ex:v a ex:C .");
owl_rule!(
    cls_hv1,
    "cls-hv1",
    "ex:R owl:hasValue ex:v ; owl:onProperty ex:p . ex:u a ex:R .",
    "ex:u ex:p ex:v ."
);
owl_rule!(
    cls_hv2,
    "cls-hv2",
    "ex:R owl:hasValue ex:v ; owl:onProperty ex:p . ex:u ex:p ex:v . ex:w ex:p ex:z .",
    "ex:u a ex:R ."
);
owl_rule!(
    cls_maxc2,
    "cls-maxc2",
    "ex:R owl:maxCardinality 1 ; owl:onProperty ex:p . ex:u a ex:R ; ex:p ex:a , ex:b .",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:a ."
);
owl_rule!(cls_maxqc3, "cls-maxqc3", "ex:R owl:maxQualifiedCardinality 1 ; owl:onProperty ex:p ; owl:onClass ex:C . ex:u a ex:R ; ex:p ex:a , ex:b , ex:c . ex:a a ex:C . ex:b a ex:C .",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:a .");
owl_rule!(cls_maxqc4, "cls-maxqc4", "ex:R owl:maxQualifiedCardinality 1 ; owl:onProperty ex:p ; owl:onClass owl:Thing . ex:u a ex:R ; ex:p ex:a , ex:b .",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:a .");

// Class axioms.
owl_rule!(
    cax_sco,
    "cax-sco",
    "ex:A rdfs:subClassOf ex:B . ex:x a ex:A .",
    "ex:x a ex:B ."
);
owl_rule!(
    cax_eqc1,
    "cax-eqc1",
    "ex:A owl:equivalentClass ex:B . ex:x a ex:A .",
    "ex:x a ex:B ."
);
owl_rule!(
    cax_eqc2,
    "cax-eqc2",
    "ex:A owl:equivalentClass ex:B . ex:x a ex:B .",
    "ex:x a ex:A ."
);

// Schema.
owl_rule!(
    scm_cls,
    "scm-cls",
    "ex:C a owl:Class .",
    "ex:C rdfs:subClassOf ex:C , owl:Thing ; owl:equivalentClass ex:C ."
);
owl_rule!(
    scm_sco,
    "scm-sco",
    "ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:C .",
    "ex:A rdfs:subClassOf ex:C ."
);
owl_rule!(
    scm_eqc1,
    "scm-eqc1",
    "ex:A owl:equivalentClass ex:B .",
    "ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:A ."
);
// The cycle also gives A ⊑ A (scm-sco), so A ≡ A.
owl_rule!(
    scm_eqc2,
    "scm-eqc2",
    "ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:A .",
    "ex:A owl:equivalentClass ex:B , ex:A . ex:B owl:equivalentClass ex:A , ex:B ."
);
owl_rule!(
    scm_op,
    "scm-op",
    "ex:p a owl:ObjectProperty .",
    "ex:p rdfs:subPropertyOf ex:p ; owl:equivalentProperty ex:p ."
);
owl_rule!(
    scm_dp,
    "scm-dp",
    "ex:p a owl:DatatypeProperty .",
    "ex:p rdfs:subPropertyOf ex:p ; owl:equivalentProperty ex:p ."
);
owl_rule!(
    scm_spo,
    "scm-spo",
    "ex:p rdfs:subPropertyOf ex:q . ex:q rdfs:subPropertyOf ex:r .",
    "ex:p rdfs:subPropertyOf ex:r ."
);
owl_rule!(
    scm_eqp1,
    "scm-eqp1",
    "ex:p owl:equivalentProperty ex:q .",
    "ex:p rdfs:subPropertyOf ex:q . ex:q rdfs:subPropertyOf ex:p ."
);
owl_rule!(
    scm_eqp2,
    "scm-eqp2",
    "ex:p rdfs:subPropertyOf ex:q . ex:q rdfs:subPropertyOf ex:p .",
    "ex:p owl:equivalentProperty ex:q , ex:p . ex:q owl:equivalentProperty ex:p , ex:q ."
);
owl_rule!(
    scm_dom1,
    "scm-dom1",
    "ex:p rdfs:domain ex:A . ex:A rdfs:subClassOf ex:B .",
    "ex:p rdfs:domain ex:B ."
);
owl_rule!(
    scm_dom2,
    "scm-dom2",
    "ex:q rdfs:domain ex:C . ex:p rdfs:subPropertyOf ex:q .",
    "ex:p rdfs:domain ex:C ."
);
owl_rule!(
    scm_rng1,
    "scm-rng1",
    "ex:p rdfs:range ex:A . ex:A rdfs:subClassOf ex:B .",
    "ex:p rdfs:range ex:B ."
);
owl_rule!(
    scm_rng2,
    "scm-rng2",
    "ex:q rdfs:range ex:C . ex:p rdfs:subPropertyOf ex:q .",
    "ex:p rdfs:range ex:C ."
);
owl_rule!(scm_hv, "scm-hv", "ex:R1 owl:hasValue ex:i ; owl:onProperty ex:p1 . ex:R2 owl:hasValue ex:i ; owl:onProperty ex:p2 . ex:p1 rdfs:subPropertyOf ex:p2 .",
    "ex:R1 rdfs:subClassOf ex:R2 .");
owl_rule!(scm_svf1, "scm-svf1", "ex:R1 owl:someValuesFrom ex:Y1 ; owl:onProperty ex:p . ex:R2 owl:someValuesFrom ex:Y2 ; owl:onProperty ex:p . ex:Y1 rdfs:subClassOf ex:Y2 .",
    "ex:R1 rdfs:subClassOf ex:R2 .");
owl_rule!(scm_svf2, "scm-svf2", "ex:R1 owl:someValuesFrom ex:Y ; owl:onProperty ex:p1 . ex:R2 owl:someValuesFrom ex:Y ; owl:onProperty ex:p2 . ex:p1 rdfs:subPropertyOf ex:p2 .",
    "ex:R1 rdfs:subClassOf ex:R2 .");
owl_rule!(scm_avf1, "scm-avf1", "ex:R1 owl:allValuesFrom ex:Y1 ; owl:onProperty ex:p . ex:R2 owl:allValuesFrom ex:Y2 ; owl:onProperty ex:p . ex:Y1 rdfs:subClassOf ex:Y2 .",
    "ex:R1 rdfs:subClassOf ex:R2 .");
owl_rule!(scm_avf2, "scm-avf2", "ex:R1 owl:allValuesFrom ex:Y ; owl:onProperty ex:p1 . ex:R2 owl:allValuesFrom ex:Y ; owl:onProperty ex:p2 . ex:p1 rdfs:subPropertyOf ex:p2 .",
    "ex:R2 rdfs:subClassOf ex:R1 .");
owl_rule!(
    scm_int,
    "scm-int",
    "ex:C owl:intersectionOf ( ex:A ex:B ) .",
    "ex:C rdfs:subClassOf ex:A , ex:B ."
);
owl_rule!(
    scm_uni,
    "scm-uni",
    "ex:C owl:unionOf ( ex:A ex:B ) .",
    "ex:A rdfs:subClassOf ex:C . ex:B rdfs:subClassOf ex:C ."
);

// Equality.
owl_rule!(
    eq_sym,
    "eq-sym",
    "ex:a owl:sameAs ex:b .",
    "ex:b owl:sameAs ex:a ."
);
owl_rule!(
    eq_trans,
    "eq-trans",
    "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:c .",
    "ex:a owl:sameAs ex:c . ex:c owl:sameAs ex:a ."
);
owl_rule!(
    eq_rep_s,
    "eq-rep-s",
    "ex:a owl:sameAs ex:b . ex:a ex:p ex:c .",
    "ex:b ex:p ex:c ."
);
owl_rule!(
    eq_rep_p,
    "eq-rep-p",
    "ex:p owl:sameAs ex:q . ex:a ex:p ex:c .",
    "ex:a ex:q ex:c ."
);
owl_rule!(
    eq_rep_o,
    "eq-rep-o",
    "ex:b owl:sameAs ex:c . ex:a ex:p ex:b .",
    "ex:a ex:p ex:c ."
);

#[test]
fn prp_ap_and_class_axioms_are_stated_once() {
    let closure = reason(Profile::OwlRl, "");
    assert_eq!(closure.inferred_by("prp-ap").len(), 9);
    assert_eq!(closure.inferred_by("cls-thing").len(), 1);
    assert_eq!(closure.inferred_by("cls-nothing1").len(), 1);
}

/// The rule names of the violations, and the premises of the first
/// violation of `rule`, blank nodes written `_:` (their labels differ
/// between two parses).
fn violations(turtle: &str, rule: &str) -> (Vec<&'static str>, BTreeSet<String>) {
    let closure = reason(Profile::OwlRl, turtle);
    let violations = closure.violations();
    let rules = violations.iter().map(|v| v.rule).collect();
    let premises = violations
        .iter()
        .find(|v| v.rule == rule)
        .map(|v| {
            v.triples
                .iter()
                .map(|t| unlabelled(&t.to_string()))
                .collect()
        })
        .unwrap_or_default();
    (rules, premises)
}

/// `text` with every blank node label dropped (`_:b12` becomes `_:`).
fn unlabelled(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("_:") {
        out.push_str(&rest[..at + 2]);
        rest = rest[at + 2..]
            .trim_start_matches(|c: char| c.is_alphanumeric() || c == '_' || c == '-');
    }
    out + rest
}

macro_rules! inconsistency {
    ($test:ident, $rule:literal, $input:literal, $premises:literal) => {
        #[test]
        fn $test() {
            let (rules, premises) = violations($input, $rule);
            assert!(rules.contains(&$rule), "{} not among {rules:?}", $rule);
            let expected: BTreeSet<String> = parse($premises)
                .iter()
                .map(|t| unlabelled(&t.to_string()))
                .collect();
            assert!(!expected.is_empty(), "a test names the premises it expects");
            assert!(expected.is_subset(&premises), "premises {premises:#?}");
        }
    };
}

inconsistency!(
    cax_dw,
    "cax-dw",
    "ex:A owl:disjointWith ex:B . ex:x a ex:A , ex:B .",
    "ex:A owl:disjointWith ex:B . ex:x a ex:A , ex:B ."
);
inconsistency!(
    cax_adc,
    "cax-adc",
    "[] a owl:AllDisjointClasses ; owl:members ( ex:A ex:B ex:C ) . ex:x a ex:A , ex:C .",
    "ex:x a ex:A , ex:C ."
);
inconsistency!(
    cls_nothing2,
    "cls-nothing2",
    "ex:x a owl:Nothing .",
    "ex:x a owl:Nothing ."
);
inconsistency!(
    cls_com,
    "cls-com",
    "ex:A owl:complementOf ex:B . ex:x a ex:A , ex:B .",
    "ex:x a ex:A , ex:B ."
);
inconsistency!(
    cls_maxc1,
    "cls-maxc1",
    "ex:R owl:maxCardinality 0 ; owl:onProperty ex:p . ex:u a ex:R ; ex:p ex:v .",
    "ex:u ex:p ex:v ."
);
inconsistency!(cls_maxqc1, "cls-maxqc1", "ex:R owl:maxQualifiedCardinality 0 ; owl:onProperty ex:p ; owl:onClass ex:C . ex:u a ex:R ; ex:p ex:v . ex:v a ex:C .", "ex:v a ex:C .");
inconsistency!(cls_maxqc2, "cls-maxqc2", "ex:R owl:maxQualifiedCardinality 0 ; owl:onProperty ex:p ; owl:onClass owl:Thing . ex:u a ex:R ; ex:p ex:v .", "ex:u ex:p ex:v .");
inconsistency!(
    prp_irp,
    "prp-irp",
    "ex:p a owl:IrreflexiveProperty . ex:x ex:p ex:x .",
    "ex:x ex:p ex:x ."
);
inconsistency!(
    prp_asyp,
    "prp-asyp",
    "ex:p a owl:AsymmetricProperty . ex:x ex:p ex:y . ex:y ex:p ex:x .",
    "ex:x ex:p ex:y . ex:y ex:p ex:x ."
);
inconsistency!(
    prp_pdw,
    "prp-pdw",
    "ex:p owl:propertyDisjointWith ex:q . ex:x ex:p ex:y ; ex:q ex:y .",
    "ex:x ex:p ex:y ; ex:q ex:y ."
);
inconsistency!(
    prp_adp,
    "prp-adp",
    "[] a owl:AllDisjointProperties ; owl:members ( ex:p ex:q ) . ex:x ex:p ex:y ; ex:q ex:y .",
    "ex:x ex:p ex:y ; ex:q ex:y ."
);
inconsistency!(prp_npa1, "prp-npa1", "[] owl:sourceIndividual ex:a ; owl:assertionProperty ex:p ; owl:targetIndividual ex:b . ex:a ex:p ex:b .", "ex:a ex:p ex:b .");
inconsistency!(prp_npa2, "prp-npa2", "[] owl:sourceIndividual ex:a ; owl:assertionProperty ex:p ; owl:targetValue \"v\" . ex:a ex:p \"v\" .", "ex:a ex:p \"v\" .");
inconsistency!(
    prp_fp_literals,
    "prp-fp",
    "ex:p a owl:FunctionalProperty . ex:x ex:p \"1\" , \"2\" .",
    "ex:x ex:p \"1\" , \"2\" ."
);
// a = b by prp-ifp, so a's functional q has two literal values.
inconsistency!(fp_clash_after_ifp_merge, "prp-fp", "ex:p a owl:InverseFunctionalProperty . ex:a ex:p ex:v . ex:b ex:p ex:v . ex:a ex:q \"x\" . ex:q a owl:FunctionalProperty . ex:b ex:q \"y\" .", "ex:a ex:q \"x\" .");
inconsistency!(
    eq_diff1,
    "eq-diff1",
    "ex:a owl:differentFrom ex:a .",
    "ex:a owl:differentFrom ex:a ."
);
/// Asserts that the first violation of `rule` has exactly `expected` as premises.
fn exact_premises(input: &str, rule: &str, expected: &str) {
    let (rules, premises) = violations(input, rule);
    assert!(rules.contains(&rule), "{rule} not among {rules:?}");
    let expected: BTreeSet<String> = parse(expected)
        .iter()
        .map(|t| unlabelled(&t.to_string()))
        .collect();
    assert_eq!(premises, expected, "premises of {rule}");
}

// Through owl:sameAs the premises are the triples as stated, about the
// individuals they name, and the sameAs triples that make them clash, never
// the triples rewritten to an equality class's representative.
#[test]
fn eq_diff1_through_same_as() {
    exact_premises(
        "ex:a owl:sameAs ex:b . ex:a owl:differentFrom ex:b .",
        "eq-diff1",
        "ex:a owl:differentFrom ex:b . ex:a owl:sameAs ex:b .",
    );
}
#[test]
fn eq_diff2_through_same_as() {
    exact_premises(
        "ex:d a owl:AllDifferent ; owl:members ( ex:a ex:b ex:c ) . ex:a owl:sameAs ex:c .",
        "eq-diff2",
        "ex:d a owl:AllDifferent ; owl:members ( ex:a ex:b ex:c ) . ex:a owl:sameAs ex:c .",
    );
}
// The two types are stated for two names of one individual; the chain
// x = z = y is given as its two stated sameAs triples.
#[test]
fn cax_dw_through_same_as() {
    exact_premises(
        "ex:A owl:disjointWith ex:B . ex:x a ex:A . ex:y a ex:B . ex:x owl:sameAs ex:z . ex:y owl:sameAs ex:z .",
        "cax-dw",
        "ex:A owl:disjointWith ex:B . ex:x a ex:A . ex:y a ex:B . ex:x owl:sameAs ex:z . ex:y owl:sameAs ex:z .",
    );
}
inconsistency!(
    eq_diff2,
    "eq-diff2",
    "ex:d a owl:AllDifferent ; owl:members ( ex:a ex:b ex:c ) . ex:a owl:sameAs ex:c .",
    "ex:d a owl:AllDifferent ; owl:members _:l . _:l rdf:first ex:a . _:m rdf:first ex:b ; rdf:rest _:n . _:n rdf:rest rdf:nil ."
);
inconsistency!(
    eq_diff3,
    "eq-diff3",
    "ex:d a owl:AllDifferent ; owl:distinctMembers ( ex:a ex:b ) . ex:b owl:sameAs ex:a .",
    "ex:d a owl:AllDifferent ; owl:distinctMembers _:l . _:l rdf:first ex:a . _:m rdf:rest rdf:nil ."
);

#[test]
fn consistent_input_has_no_violations() {
    let (rules, _) = violations(
        "ex:A owl:disjointWith ex:B . ex:x a ex:A . ex:y a ex:B .",
        "cax-dw",
    );
    assert!(rules.is_empty(), "{rules:?}");
}

#[test]
fn cycles_and_malformed_lists_terminate_with_warnings() {
    let closure = reason(
        Profile::OwlRl,
        "ex:A rdfs:subClassOf ex:B . ex:B rdfs:subClassOf ex:C . ex:C rdfs:subClassOf ex:A . ex:x a ex:A .
         ex:D owl:intersectionOf ex:l1 . ex:l1 rdf:first ex:A ; rdf:rest ex:l1 .
         ex:E owl:unionOf ex:l2 . ex:l2 rdf:first ex:A , ex:B ; rdf:rest rdf:nil .
         ex:name owl:sameAs \"b\" .",
    );
    let types = own_terms(
        closure
            .inferred()
            .iter()
            .map(|(t, _)| t.clone())
            .filter(|t| t.predicate.as_str().ends_with("#type")),
    );
    assert_eq!(types.len(), 2, "x is a B and a C: {types:?}");
    let warnings = closure.warnings().join("\n");
    assert!(
        warnings.contains("cyclic") && warnings.contains("<http://example.com/D>"),
        "{warnings}"
    );
    assert!(
        warnings.contains("exactly one rdf:first") && warnings.contains("<http://example.com/E>"),
        "{warnings}"
    );
    assert!(warnings.contains("involves a literal"), "{warnings}");
}

#[test]
fn literal_subjects_are_not_derived() {
    let closure = reason(
        Profile::OwlRl,
        "ex:p owl:inverseOf ex:q . ex:a ex:p \"text\" .",
    );
    assert!(closure.inferred_by("prp-inv1").is_empty());
}

#[test]
fn derivations_go_down_to_asserted_triples() {
    let closure = reason(
        Profile::OwlRl,
        "ex:p a owl:TransitiveProperty . ex:p rdfs:domain ex:C . ex:C rdfs:subClassOf ex:D .
         ex:a ex:p ex:b . ex:b ex:p ex:c .",
    );
    let triple = parse("ex:a a ex:D .").remove(0);
    let tree = closure.explain(&triple).expect("entailed");
    // Either through C (cax-sco) or through the domain widened to D (scm-dom1, prp-dom).
    assert!(matches!(tree.rule, Some("cax-sco" | "prp-dom")), "{tree}");
    fn leaves(tree: &kgfuse::reason::DerivationTree, out: &mut Vec<String>) {
        if tree.premises.is_empty() {
            assert!(tree.rule.is_none(), "a leaf is asserted: {tree}");
            out.push(tree.triple.to_string());
        }
        for p in &tree.premises {
            leaves(p, out);
        }
    }
    let mut asserted = Vec::new();
    leaves(&tree, &mut asserted);
    assert!(asserted.iter().any(|t| t.contains("subClassOf")), "{tree}");
    assert!(
        asserted
            .iter()
            .any(|t| t.contains("rdf-syntax-ns#type>") || t.contains("<http://example.com/p>")),
        "{tree}"
    );
    assert!(
        closure.explain(&parse("ex:c a ex:D .").remove(0)).is_none(),
        "c is only an object"
    );
}

#[test]
fn sameas_chains_are_explained_through_the_union_find() {
    let closure = reason(
        Profile::OwlRl,
        "ex:a owl:sameAs ex:b . ex:c owl:sameAs ex:b . ex:a ex:p ex:v .",
    );
    let tree = closure
        .explain(&parse("ex:c ex:p ex:v .").remove(0))
        .expect("entailed");
    assert!(tree.rule.unwrap().starts_with("eq-rep"), "{tree}");
    let text = tree.to_string();
    assert!(
        text.contains("eq-trans") || text.contains("eq-sym"),
        "{text}"
    );
}

/// A rule applied through an equality names the triple as stated and the
/// sameAs triple, not the triple rewritten to the class's representative.
#[test]
fn derivations_through_same_as_name_the_stated_triples() {
    let closure = reason(
        Profile::OwlRl,
        "ex:a owl:sameAs ex:b . ex:b a ex:C . ex:C rdfs:subClassOf ex:D .",
    );
    let tree = closure
        .explain(&parse("ex:a a ex:D .").remove(0))
        .expect("entailed");
    assert_eq!(tree.rule, Some("cax-sco"), "{tree}");
    let premises: BTreeSet<String> = tree
        .premises
        .iter()
        .map(|p| {
            assert_eq!(p.rule, None, "every premise is asserted: {tree}");
            p.triple.to_string()
        })
        .collect();
    let expected: BTreeSet<String> =
        parse("ex:C rdfs:subClassOf ex:D . ex:b a ex:C . ex:a owl:sameAs ex:b .")
            .iter()
            .map(ToString::to_string)
            .collect();
    assert_eq!(premises, expected, "{tree}");
}

/// Whether a derivation step is the engine's rewrite to a class representative.
fn is_rewrite(tree: &kgfuse::reason::DerivationTree) -> bool {
    tree.rule.is_some_and(|r| r.starts_with("eq-rep"))
}

/// Across the rules, with individuals merged by owl:sameAs: no violation
/// names a rewritten triple, no rule was applied to one, and every
/// explanation ends in asserted triples (or axioms).
#[test]
fn no_premise_is_a_rewrite_to_a_representative() {
    fn walk(tree: &kgfuse::reason::DerivationTree) {
        if tree.premises.is_empty() {
            assert!(
                matches!(
                    tree.rule,
                    None | Some("prp-ap" | "cls-thing" | "cls-nothing1")
                ),
                "a leaf is asserted: {tree}"
            );
        }
        for p in &tree.premises {
            assert!(
                is_rewrite(tree) || !is_rewrite(p),
                "a rule on a rewrite:\n{tree}"
            );
            walk(p);
        }
    }
    for input in [
        "ex:p a owl:IrreflexiveProperty . ex:x ex:p ex:y . ex:x owl:sameAs ex:y .",
        "ex:p a owl:AsymmetricProperty . ex:x ex:p ex:y . ex:z ex:p ex:w . ex:x owl:sameAs ex:w . ex:z owl:sameAs ex:y .",
        "ex:A owl:complementOf ex:B . ex:x a ex:A . ex:y a ex:B . ex:y owl:sameAs ex:x .",
        "ex:p owl:propertyDisjointWith ex:q . ex:x ex:p ex:y . ex:z ex:q ex:y . ex:z owl:sameAs ex:x .",
        "[] owl:sourceIndividual ex:a ; owl:assertionProperty ex:p ; owl:targetIndividual ex:b . ex:c ex:p ex:b . ex:a owl:sameAs ex:c .",
        "ex:d a owl:AllDifferent ; owl:distinctMembers ( ex:a ex:b ) . ex:b owl:sameAs ex:a .",
        "ex:p a owl:InverseFunctionalProperty . ex:a ex:p ex:v . ex:b ex:p ex:v . ex:a ex:q \"x\" . ex:q a owl:FunctionalProperty . ex:b ex:q \"y\" .",
        "ex:q owl:sameAs ex:p . ex:x ex:q ex:y . ex:p rdfs:domain ex:C . ex:C rdfs:subClassOf ex:D . ex:p a owl:IrreflexiveProperty . ex:y owl:sameAs ex:x .",
        "ex:a owl:sameAs ex:b . ex:b owl:sameAs ex:c . ex:c ex:r ex:d . ex:r a owl:TransitiveProperty . ex:d ex:r ex:a . ex:D owl:disjointWith ex:E . ex:r rdfs:domain ex:D . ex:b a ex:E .",
    ] {
        let closure = reason(Profile::OwlRl, input);
        let violations = closure.violations();
        assert!(!violations.is_empty(), "{input}");
        for v in &violations {
            for t in &v.triples {
                let tree = closure.explain(t).expect("a premise holds");
                assert!(!is_rewrite(&tree), "{input}: {v}");
            }
        }
        for (t, _) in closure.inferred() {
            walk(&closure.explain(t).expect("an inferred triple holds"));
        }
    }
}

/// The project's ontology with the shipped sample: entailments it was designed for.
#[test]
fn risk_ontology_entailments_on_the_sample() {
    let mut reasoner = Reasoner::new(ReasonOptions::default());
    for source in [
        kgfuse::defaults::RISK_ONTOLOGY,
        kgfuse::defaults::FINANCE_SAMPLE,
    ] {
        reasoner.add(
            RdfParser::from_format(RdfFormat::Turtle)
                .for_slice(source)
                .map(|q| Triple::from(q.unwrap())),
        );
    }
    let closure = reasoner.run(|_| {}).unwrap();
    assert!(
        closure.violations().is_empty(),
        "{:?}",
        closure.violations()
    );
    let holds = |text: &str| {
        let t = parse(&format!(
            "@prefix risk: <https://w3id.org/kgfuse/risk#> . @prefix d: <https://w3id.org/kgfuse/data/> . {text}"
        ))
        .remove(0);
        closure.holds(&t)
    };
    // hasSubsidiary is the inverse of subsidiaryOf, a sub-property of isControlledBy.
    assert!(holds(
        "d:company\\/0004 risk:isControlledBy d:company\\/0002 ."
    ));
    assert!(holds("d:company\\/0002 risk:controls d:company\\/0004 ."));
    // A bank is a financial institution and so a company and a legal entity.
    assert!(holds("d:bank\\/0000 a risk:LegalEntity ."));
    // Directors are persons (range of hasDirector) and directorOf is its inverse.
    assert!(holds("d:person\\/0000 risk:directorOf d:company\\/0004 ."));
    assert!(holds("d:person\\/0000 a risk:Person ."));
    // Mentions: the property chain hasMention o mentionOf gives mentions.
    assert!(holds(
        "d:article\\/0001 risk:hasMention d:mention\\/0001-0 ."
    ));
    assert!(!holds("d:company\\/0004 a risk:Person ."));
}

#[test]
fn each_inconsistency_is_reported_once() {
    let closure = reason(
        Profile::OwlRl,
        "ex:p a owl:FunctionalProperty . ex:x ex:p \"1\" , \"2\" .",
    );
    assert_eq!(closure.violations().len(), 1, "{:?}", closure.violations());
}

/// A literal's class is used inside the closure but never output: RDF has
/// no literal subjects.
#[test]
fn literal_classes_are_not_output() {
    let closure = reason(
        Profile::OwlRl,
        "ex:p rdfs:range ex:Date . ex:u ex:p \"2024-01-01\" .",
    );
    assert!(closure
        .inferred()
        .iter()
        .all(|(t, _)| !t.to_string().starts_with('"')));
    assert!(closure.inferred_by("dt-type2").is_empty());
}
