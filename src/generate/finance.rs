//! A deterministic synthetic financial-risk knowledge graph in the vocabulary
//! of `ontologies/risk.ttl`, whose `risk:riskLabel` can only be learnt by
//! reading the news text *and* following the ownership and board structure.
//!
//! The generator first builds a plain model of the world (companies, people,
//! funds, banks, holdings, loans, regulatory actions), then computes each
//! company's structural exposure from that model, draws a hidden
//! adverse-press factor that only shows up in article wording, sets the label
//! to "adverse press AND structural exposure", flips a share of labels as
//! noise, and finally writes everything out as triples. `data/README.md`
//! documents the factors and the exact formula.

use super::words::{
    JurisdictionSpec, ADVERSE_CLOSINGS, ADVERSE_DETAILS, ADVERSE_QUOTES, ADVERSE_STORIES,
    BANK_FORMS, DESCRIPTORS, FIRST_NAMES, FUND_FORMS, JURISDICTIONS, MONTHS, NAME_STEMS,
    NEUTRAL_CLOSINGS, NEUTRAL_DETAILS, NEUTRAL_QUOTES, NEUTRAL_STORIES, NEWS_DESKS, REGULATORS,
    SECONDARY_SENTENCES, SECTORS, SETBACK_STORIES, SURNAMES,
};
use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::vocab::{rdf, rdfs, xsd};
use oxigraph::model::{Literal, NamedNode, Term, Triple};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io;

/// Namespace of the risk ontology.
pub const RISK_NS: &str = "https://w3id.org/kgfuse/risk#";
/// Namespace all generated instance IRIs live under.
pub const DATA_NS: &str = "https://w3id.org/kgfuse/data/";

/// Prefixes written at the top of the Turtle output. One per kind of node,
/// because `data:company/0042` is not a valid prefixed name; the serializer
/// prefers the longest matching namespace, so `data:` is only declared.
const PREFIXES: &[(&str, &str)] = &[
    ("risk", RISK_NS),
    ("rdf", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
    ("rdfs", "http://www.w3.org/2000/01/rdf-schema#"),
    ("xsd", "http://www.w3.org/2001/XMLSchema#"),
    ("company", "https://w3id.org/kgfuse/data/company/"),
    ("person", "https://w3id.org/kgfuse/data/person/"),
    ("fund", "https://w3id.org/kgfuse/data/fund/"),
    ("bank", "https://w3id.org/kgfuse/data/bank/"),
    ("regulator", "https://w3id.org/kgfuse/data/regulator/"),
    ("jurisdiction", "https://w3id.org/kgfuse/data/jurisdiction/"),
    ("holding", "https://w3id.org/kgfuse/data/holding/"),
    ("loan", "https://w3id.org/kgfuse/data/loan/"),
    ("event", "https://w3id.org/kgfuse/data/event/"),
    ("action", "https://w3id.org/kgfuse/data/action/"),
    ("article", "https://w3id.org/kgfuse/data/article/"),
    ("mention", "https://w3id.org/kgfuse/data/mention/"),
    ("data", DATA_NS),
];

/// Knobs of the finance generator. Changing `label_noise` or
/// `adverse_news_rate` leaves the ownership structure untouched, because
/// every phase draws from its own random stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FinanceConfig {
    /// Number of ordinary (labelled) companies; banks, funds and regulators
    /// come on top.
    pub companies: usize,
    pub seed: u64,
    /// Share of companies whose label is flipped after it is computed.
    pub label_noise: f64,
    /// Probability that a company carries the hidden adverse-press factor.
    pub adverse_news_rate: f64,
}

impl Default for FinanceConfig {
    fn default() -> Self {
        Self {
            companies: 600,
            seed: 42,
            label_noise: 0.05,
            adverse_news_rate: 0.55,
        }
    }
}

/// The generated graph, with the counts and the per-company ground truth
/// behind every label.
#[derive(Debug, Clone)]
pub struct FinanceGraph {
    pub triples: Vec<Triple>,
    pub summary: GenerationSummary,
    /// One entry per labelled company, in company index order.
    pub truth: Vec<CompanyTruth>,
}

/// Why a company's label is what it is. Nothing here is stored in the graph
/// except `high_risk` (as `risk:riskLabel`); `exposure` can be recomputed from
/// the graph, `adverse_news` only from article text.
#[derive(Debug, Clone, PartialEq)]
pub struct CompanyTruth {
    pub iri: NamedNode,
    pub adverse_news: bool,
    pub exposure: Exposure,
    pub label_flipped: bool,
    pub high_risk: bool,
}

/// The four structural risk channels; a company is exposed if any holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Exposure {
    /// The company, a company above it in its parent chain, a fund that
    /// controls one of those, or a beneficial owner of one of those is the
    /// target of a `risk:Sanction`.
    pub sanctioned_control: bool,
    /// The company, a company above it, or a fund controlling one of those is
    /// incorporated in a tier-3 jurisdiction.
    pub offshore_control: bool,
    /// A director of the company also sits on the board of another company
    /// that is sanctioned or has defaulted on a loan.
    pub tainted_director: bool,
    /// One of the company's own loans has a `risk:Default` event.
    pub defaulted_loan: bool,
}

impl Exposure {
    pub fn any(&self) -> bool {
        self.sanctioned_control
            || self.offshore_control
            || self.tainted_director
            || self.defaulted_loan
    }
}

/// Counts of what was generated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GenerationSummary {
    pub companies: usize,
    pub persons: usize,
    pub funds: usize,
    pub banks: usize,
    pub articles: usize,
    pub mentions: usize,
    pub loans: usize,
    pub defaults: usize,
    pub restructurings: usize,
    pub sanctions: usize,
    pub enforcement_actions: usize,
    pub adverse_news: usize,
    pub exposed: usize,
    pub high_risk: usize,
    pub low_risk: usize,
    pub flipped_labels: usize,
    pub triples: usize,
}

impl fmt::Display for GenerationSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} companies: {} high risk, {} low risk ({} labels flipped as noise)",
            self.companies, self.high_risk, self.low_risk, self.flipped_labels
        )?;
        writeln!(
            f,
            "latent factors: {} with adverse press, {} structurally exposed",
            self.adverse_news, self.exposed
        )?;
        writeln!(
            f,
            "{} persons, {} funds, {} banks; {} loans ({} defaults, {} restructurings)",
            self.persons, self.funds, self.banks, self.loans, self.defaults, self.restructurings
        )?;
        writeln!(
            f,
            "{} sanctions, {} enforcement actions; {} articles with {} mentions",
            self.sanctions, self.enforcement_actions, self.articles, self.mentions
        )?;
        write!(f, "{} triples", self.triples)
    }
}

/// Generates the graph for `config`; the same config always gives the same
/// triples in the same order.
pub fn generate(config: &FinanceConfig) -> FinanceGraph {
    let world = World::build(
        config.companies,
        &mut stream(config.seed, Stream::Structure),
    );
    let exposures = world.exposures();

    let mut latent_rng = stream(config.seed, Stream::Latent);
    let adverse: Vec<bool> = (0..world.companies.len())
        .map(|_| latent_rng.random_bool(config.adverse_news_rate.clamp(0.0, 1.0)))
        .collect();

    let articles = world.write_articles(&adverse, &mut stream(config.seed, Stream::Text));

    let mut noise_rng = stream(config.seed, Stream::Noise);
    let truth: Vec<CompanyTruth> = (0..world.companies.len())
        .map(|c| {
            let label_flipped = noise_rng.random_bool(config.label_noise.clamp(0.0, 1.0));
            CompanyTruth {
                iri: Party::Company(c).iri(),
                adverse_news: adverse[c],
                exposure: exposures[c],
                label_flipped,
                high_risk: (adverse[c] && exposures[c].any()) != label_flipped,
            }
        })
        .collect();

    let triples = world.triples(&articles, &truth);
    let high_risk = truth.iter().filter(|t| t.high_risk).count();
    let summary = GenerationSummary {
        companies: world.companies.len(),
        persons: world.persons.len(),
        funds: world.funds.len(),
        banks: world.banks.len(),
        articles: articles.len(),
        mentions: articles.iter().map(|a| a.mentions.len()).sum(),
        loans: world.loans.len(),
        defaults: world
            .loans
            .iter()
            .filter(|l| matches!(l.event, Some((CreditEventKind::Default, _))))
            .count(),
        restructurings: world
            .loans
            .iter()
            .filter(|l| matches!(l.event, Some((CreditEventKind::Restructuring, _))))
            .count(),
        sanctions: world
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Sanction)
            .count(),
        enforcement_actions: world
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Enforcement)
            .count(),
        adverse_news: adverse.iter().filter(|a| **a).count(),
        exposed: exposures.iter().filter(|e| e.any()).count(),
        high_risk,
        low_risk: truth.len() - high_risk,
        flipped_labels: truth.iter().filter(|t| t.label_flipped).count(),
        triples: triples.len(),
    };
    FinanceGraph {
        triples,
        summary,
        truth,
    }
}

/// Writes the graph as Turtle with the `risk:`, `rdf:`, `rdfs:`, `xsd:` and
/// data prefixes.
pub fn write_turtle<W: io::Write>(graph: &FinanceGraph, out: W) -> io::Result<()> {
    let mut serializer = RdfSerializer::from_format(RdfFormat::Turtle);
    for (name, iri) in PREFIXES {
        serializer = serializer
            .with_prefix(*name, *iri)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    }
    let mut writer = serializer.for_writer(out);
    for triple in &graph.triples {
        writer.serialize_triple(triple)?;
    }
    writer.finish()?;
    Ok(())
}

/// Independent random streams, one per phase, so that e.g. a different noise
/// rate does not reshuffle the companies.
#[derive(Clone, Copy)]
enum Stream {
    Structure = 0,
    Latent = 1,
    Text = 2,
    Noise = 3,
}

fn stream(seed: u64, which: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(which as u64);
    rng
}

// ---------------------------------------------------------------------------
// The world model
// ---------------------------------------------------------------------------

/// Anything that can be mentioned, own shares or be targeted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Party {
    Company(usize),
    Person(usize),
    Fund(usize),
    Bank(usize),
}

impl Party {
    fn iri(self) -> NamedNode {
        match self {
            Party::Company(i) => data_iri("company", i),
            Party::Person(i) => data_iri("person", i),
            Party::Fund(i) => data_iri("fund", i),
            Party::Bank(i) => data_iri("bank", i),
        }
    }
}

struct Company {
    name: String,
    sector: usize,
    /// Index into the sector's activity phrases, for the description.
    activity: usize,
    jurisdiction: usize,
    founded: u32,
    parent: Option<usize>,
    depth: u8,
    directors: Vec<usize>,
    beneficial_owners: Vec<usize>,
    controlling_fund: Option<usize>,
}

struct Fund {
    name: String,
    jurisdiction: usize,
}

struct Bank {
    name: String,
    jurisdiction: usize,
}

/// A stake of `hundredths` / 100 percent held by `holder` in company `held`.
struct Holding {
    holder: Party,
    held: usize,
    hundredths: u32,
}

impl Holding {
    fn controlling(&self) -> bool {
        self.hundredths > 5000
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum CreditEventKind {
    Default,
    Restructuring,
}

struct Loan {
    borrower: usize,
    lender: usize,
    amount: u64,
    currency: &'static str,
    event: Option<(CreditEventKind, Day)>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ActionKind {
    Sanction,
    Enforcement,
}

struct Action {
    kind: ActionKind,
    target: Party,
    regulator: usize,
    date: Day,
}

struct Article {
    headline: String,
    text: String,
    published: Day,
    /// (party, start char, end char exclusive) into `text`.
    mentions: Vec<(Party, usize, usize)>,
}

struct World {
    companies: Vec<Company>,
    persons: Vec<String>,
    funds: Vec<Fund>,
    banks: Vec<Bank>,
    holdings: Vec<Holding>,
    loans: Vec<Loan>,
    actions: Vec<Action>,
}

impl World {
    fn build(n: usize, rng: &mut ChaCha8Rng) -> World {
        let mut names = NameBook::default();
        let mut world = World {
            companies: Vec::with_capacity(n),
            persons: Vec::new(),
            funds: Vec::new(),
            banks: Vec::new(),
            holdings: Vec::new(),
            loans: Vec::new(),
            actions: Vec::new(),
        };
        let jurisdiction_weights: Vec<u32> = JURISDICTIONS.iter().map(|j| j.weight).collect();

        for i in 0..n {
            let sector = rng.random_range(0..SECTORS.len());
            let parent = if i > 0 && rng.random_bool(0.45) {
                let candidates: Vec<usize> =
                    (0..i).filter(|&c| world.companies[c].depth < 3).collect();
                (!candidates.is_empty()).then(|| pick(rng, &candidates))
            } else {
                None
            };
            let jurisdiction = match parent {
                Some(p) if rng.random_bool(0.5) => world.companies[p].jurisdiction,
                _ => weighted(rng, &jurisdiction_weights),
            };
            // Subsidiaries often carry the group's name stem.
            let stem = match parent {
                Some(p) if rng.random_bool(0.6) => group_stem(&world.companies[p].name),
                _ => pick(rng, NAME_STEMS),
            };
            let name = names.company(rng, stem, sector, &JURISDICTIONS[jurisdiction]);
            world.companies.push(Company {
                name,
                sector,
                activity: rng.random_range(0..SECTORS[sector].activities.len()),
                jurisdiction,
                founded: rng.random_range(1952..=2019),
                depth: parent.map_or(0, |p| world.companies[p].depth + 1),
                parent,
                directors: Vec::new(),
                beneficial_owners: Vec::new(),
                controlling_fund: None,
            });
            if let Some(p) = parent {
                let hundredths = if rng.random_bool(0.6) {
                    10000
                } else {
                    rng.random_range(51..=99) * 100
                };
                world.holdings.push(Holding {
                    holder: Party::Company(p),
                    held: i,
                    hundredths,
                });
            }
            world.appoint_directors(rng, &mut names, i);
        }

        let fund_domiciles: Vec<usize> = ["KY", "LU", "US-DE", "GB", "VG", "CH"]
            .iter()
            .map(|code| jurisdiction_index(code))
            .collect();
        for _ in 0..(n / 25).max(3) {
            let name = names.fund(rng);
            world.funds.push(Fund {
                name,
                jurisdiction: pick(rng, &fund_domiciles),
            });
        }
        let bank_weights: Vec<u32> = JURISDICTIONS
            .iter()
            .map(|j| if j.tier < 3 { j.weight } else { 0 })
            .collect();
        for _ in 0..(n / 30).max(4) {
            let jurisdiction = weighted(rng, &bank_weights);
            let name = names.bank(rng, &JURISDICTIONS[jurisdiction]);
            world.banks.push(Bank { name, jurisdiction });
        }

        world.assign_owners(rng, &mut names);
        world.add_minority_stakes(rng);
        world.add_loans(rng);
        world.add_regulatory_actions(rng);
        world
    }

    fn appoint_directors(&mut self, rng: &mut ChaCha8Rng, names: &mut NameBook, company: usize) {
        let seats = 1 + weighted(rng, &[30, 45, 25]);
        let mut board: Vec<usize> = Vec::with_capacity(seats);
        for _ in 0..seats {
            // Shared directors are what links otherwise unrelated companies.
            let person = if !self.persons.is_empty() && rng.random_bool(0.35) {
                rng.random_range(0..self.persons.len())
            } else {
                self.new_person(rng, names)
            };
            if !board.contains(&person) {
                board.push(person);
            }
        }
        self.companies[company].directors = board;
    }

    fn new_person(&mut self, rng: &mut ChaCha8Rng, names: &mut NameBook) -> usize {
        self.persons.push(names.person(rng));
        self.persons.len() - 1
    }

    /// Top-level companies are owned either by a fund (which controls them)
    /// or by one controlling or two minority beneficial owners.
    fn assign_owners(&mut self, rng: &mut ChaCha8Rng, names: &mut NameBook) {
        for c in 0..self.companies.len() {
            if self.companies[c].parent.is_some() {
                continue;
            }
            if rng.random_bool(0.15) {
                let fund = rng.random_range(0..self.funds.len());
                self.companies[c].controlling_fund = Some(fund);
                let hundredths = rng.random_range(51..=95) * 100;
                self.holdings.push(Holding {
                    holder: Party::Fund(fund),
                    held: c,
                    hundredths,
                });
                continue;
            }
            let stakes: Vec<u32> = if rng.random_bool(0.55) {
                vec![rng.random_range(51..=100) * 100 - rng.random_range(0..4) * 25]
            } else {
                vec![
                    rng.random_range(25..=45) * 100,
                    rng.random_range(25..=45) * 100,
                ]
            };
            for hundredths in stakes {
                let directors = &self.companies[c].directors;
                let person = if rng.random_bool(0.5) {
                    pick(rng, directors)
                } else if rng.random_bool(0.3) {
                    rng.random_range(0..self.persons.len())
                } else {
                    self.new_person(rng, names)
                };
                if self.companies[c].beneficial_owners.contains(&person) {
                    continue;
                }
                self.companies[c].beneficial_owners.push(person);
                self.holdings.push(Holding {
                    holder: Party::Person(person),
                    held: c,
                    hundredths,
                });
            }
        }
    }

    /// Small stakes that do not confer control: they put sanctioned or
    /// offshore parties next to companies without exposing them.
    fn add_minority_stakes(&mut self, rng: &mut ChaCha8Rng) {
        let n = self.companies.len();
        if n < 2 {
            return;
        }
        for fund in 0..self.funds.len() {
            for _ in 0..rng.random_range(2..=4) {
                let held = rng.random_range(0..n);
                if self.companies[held].controlling_fund != Some(fund) {
                    let hundredths = rng.random_range(3..=30) * 100;
                    self.holdings.push(Holding {
                        holder: Party::Fund(fund),
                        held,
                        hundredths,
                    });
                }
            }
        }
        for c in 0..n {
            if rng.random_bool(0.12) {
                let held = rng.random_range(0..n);
                if held != c && self.companies[held].parent != Some(c) {
                    let hundredths = rng.random_range(2..=30) * 100;
                    self.holdings.push(Holding {
                        holder: Party::Company(c),
                        held,
                        hundredths,
                    });
                }
            }
        }
    }

    fn add_loans(&mut self, rng: &mut ChaCha8Rng) {
        for borrower in 0..self.companies.len() {
            for _ in 0..weighted(rng, &[20, 45, 25, 10]) {
                let lender = rng.random_range(0..self.banks.len());
                let currency = if rng.random_bool(0.7) {
                    JURISDICTIONS[self.banks[lender].jurisdiction].currency
                } else {
                    "USD"
                };
                // Log-uniform between 0.5 and 300 million, rounded to two
                // significant digits like real facility sizes.
                let amount = round_significant((rng.random_range(13.1f64..19.5)).exp(), 2);
                let roll: f64 = rng.random();
                let event = if roll < 0.1 {
                    Some((CreditEventKind::Default, random_day(rng)))
                } else if roll < 0.2 {
                    Some((CreditEventKind::Restructuring, random_day(rng)))
                } else {
                    None
                };
                self.loans.push(Loan {
                    borrower,
                    lender,
                    amount,
                    currency,
                    event,
                });
            }
        }
    }

    fn add_regulatory_actions(&mut self, rng: &mut ChaCha8Rng) {
        let sanctioners: Vec<usize> = (0..REGULATORS.len())
            .filter(|&r| REGULATORS[r].sanctions)
            .collect();
        let supervisors: Vec<usize> = (0..REGULATORS.len())
            .filter(|&r| !REGULATORS[r].sanctions)
            .collect();
        let mut targets: Vec<(ActionKind, Party)> = Vec::new();
        for c in 0..self.companies.len() {
            if rng.random_bool(0.05) {
                targets.push((ActionKind::Sanction, Party::Company(c)));
            }
            // Enforcement actions are fines for rule breaches: recorded, but
            // not part of the label formula.
            if rng.random_bool(0.08) {
                targets.push((ActionKind::Enforcement, Party::Company(c)));
            }
        }
        for p in 0..self.persons.len() {
            if rng.random_bool(0.04) {
                targets.push((ActionKind::Sanction, Party::Person(p)));
            }
        }
        for f in 0..self.funds.len() {
            if rng.random_bool(0.1) {
                targets.push((ActionKind::Sanction, Party::Fund(f)));
            }
        }
        for b in 0..self.banks.len() {
            if rng.random_bool(0.2) {
                targets.push((ActionKind::Enforcement, Party::Bank(b)));
            }
        }
        for (kind, target) in targets {
            let pool = if kind == ActionKind::Sanction {
                &sanctioners
            } else {
                &supervisors
            };
            let regulator = pick(rng, pool);
            self.actions.push(Action {
                kind,
                target,
                regulator,
                date: random_day(rng),
            });
        }
    }

    /// The structural channels of `data/README.md`, read off the model, for
    /// every company.
    fn exposures(&self) -> Vec<Exposure> {
        let n = self.companies.len();
        let sanctioned: HashSet<Party> = self
            .actions
            .iter()
            .filter(|a| a.kind == ActionKind::Sanction)
            .map(|a| a.target)
            .collect();
        let mut defaulted = vec![false; n];
        for loan in &self.loans {
            if matches!(loan.event, Some((CreditEventKind::Default, _))) {
                defaulted[loan.borrower] = true;
            }
        }
        let mut boards: Vec<Vec<usize>> = vec![Vec::new(); self.persons.len()];
        for (c, company) in self.companies.iter().enumerate() {
            for &d in &company.directors {
                boards[d].push(c);
            }
        }
        let tainted: Vec<bool> = (0..n)
            .map(|c| defaulted[c] || sanctioned.contains(&Party::Company(c)))
            .collect();
        let fund_tier = |f: usize| JURISDICTIONS[self.funds[f].jurisdiction].tier;

        (0..n)
            .map(|company| {
                let mut chain = vec![company];
                let mut at = company;
                while let Some(parent) = self.companies[at].parent {
                    chain.push(parent);
                    at = parent;
                }
                let sanctioned_control = chain.iter().any(|&c| {
                    let entity = &self.companies[c];
                    sanctioned.contains(&Party::Company(c))
                        || entity
                            .controlling_fund
                            .is_some_and(|f| sanctioned.contains(&Party::Fund(f)))
                        || entity
                            .beneficial_owners
                            .iter()
                            .any(|&p| sanctioned.contains(&Party::Person(p)))
                });
                let offshore_control = chain.iter().any(|&c| {
                    let entity = &self.companies[c];
                    JURISDICTIONS[entity.jurisdiction].tier == 3
                        || entity.controlling_fund.is_some_and(|f| fund_tier(f) == 3)
                });
                let tainted_director = self.companies[company].directors.iter().any(|&d| {
                    boards[d]
                        .iter()
                        .any(|&other| other != company && tainted[other])
                });
                Exposure {
                    sanctioned_control,
                    offshore_control,
                    tainted_director,
                    defaulted_loan: defaulted[company],
                }
            })
            .collect()
    }

    fn label(&self, party: Party) -> &str {
        match party {
            Party::Company(i) => &self.companies[i].name,
            Party::Person(i) => &self.persons[i],
            Party::Fund(i) => &self.funds[i].name,
            Party::Bank(i) => &self.banks[i].name,
        }
    }

    /// News about every company: one to three stories with the company as
    /// subject. Stories about a company with the adverse-press factor are
    /// about misconduct (the first always, later ones mostly); all others are
    /// good news or lawful setbacks. Other companies are named only in
    /// sentences shared by all kinds of story.
    fn write_articles(&self, adverse: &[bool], rng: &mut ChaCha8Rng) -> Vec<Article> {
        let mut articles = Vec::new();
        for (c, &is_adverse) in adverse.iter().enumerate() {
            for k in 0..1 + weighted(rng, &[40, 40, 20]) {
                let tone = if is_adverse && (k == 0 || rng.random_bool(0.6)) {
                    Tone::Adverse
                } else if rng.random_bool(0.3) {
                    Tone::Setback
                } else {
                    Tone::Neutral
                };
                articles.push(self.write_article(c, tone, rng));
            }
        }
        articles
    }

    fn write_article(&self, subject: usize, tone: Tone, rng: &mut ChaCha8Rng) -> Article {
        let company = &self.companies[subject];
        let (headline, lead) = match tone {
            Tone::Adverse => pick(rng, ADVERSE_STORIES),
            Tone::Neutral => pick(rng, NEUTRAL_STORIES),
            Tone::Setback => pick(rng, SETBACK_STORIES),
        };
        let published = random_day(rng);
        let city_pool = JURISDICTIONS[rng.random_range(0..JURISDICTIONS.len())].cities;
        let fill = Filler {
            amount: money(
                round_significant(rng.random_range(15.4f64..21.4).exp(), 2),
                rng,
            ),
            pct: rng.random_range(2..=35).to_string(),
            count: (rng.random_range(4..=90) * 50).to_string(),
            // Any city, not the company's own: a home city would leak the
            // jurisdiction (a structural fact) into the text.
            city: pick(rng, city_pool).to_string(),
            month: pick(rng, MONTHS).to_string(),
        };
        let subject = Party::Company(subject);

        let mut headline_text = TextBuilder::default();
        headline_text.push_template(headline, &fill, self, subject, None, None);

        let mut body = TextBuilder::default();
        let (year, month, day) = published.civil();
        body.push_str(&format!(
            "{}, {day} {} {year} — ",
            pick(rng, NEWS_DESKS),
            MONTHS[month as usize - 1]
        ));
        body.push_template(lead, &fill, self, subject, None, None);
        let details = if tone == Tone::Adverse {
            ADVERSE_DETAILS
        } else {
            NEUTRAL_DETAILS
        };
        for _ in 0..rng.random_range(1..=2) {
            body.push_str(" ");
            body.push_template(pick(rng, details), &fill, self, subject, None, None);
        }
        if rng.random_bool(0.4) {
            let quotes = if tone == Tone::Adverse {
                ADVERSE_QUOTES
            } else {
                NEUTRAL_QUOTES
            };
            let director = pick(rng, &company.directors);
            body.push_str(" ");
            body.push_template(
                pick(rng, quotes),
                &fill,
                self,
                subject,
                None,
                Some(Party::Person(director)),
            );
        }
        let mut named = vec![subject];
        for _ in 0..weighted(rng, &[50, 35, 15]) {
            let other = Party::Company(rng.random_range(0..self.companies.len()));
            if !named.contains(&other) {
                named.push(other);
                body.push_str(" ");
                body.push_template(
                    pick(rng, SECONDARY_SENTENCES),
                    &fill,
                    self,
                    subject,
                    Some(other),
                    None,
                );
            }
        }
        if rng.random_bool(0.35) {
            let closings = if tone == Tone::Adverse {
                ADVERSE_CLOSINGS
            } else {
                NEUTRAL_CLOSINGS
            };
            body.push_str(" ");
            body.push_template(pick(rng, closings), &fill, self, subject, None, None);
        }
        Article {
            headline: headline_text.text,
            text: body.text,
            published,
            mentions: body.mentions,
        }
    }

    // -----------------------------------------------------------------------
    // Triples
    // -----------------------------------------------------------------------

    /// Every triple of the world, always in the same order, so one seed
    /// gives byte-identical files.
    fn triples(&self, articles: &[Article], truth: &[CompanyTruth]) -> Vec<Triple> {
        let mut out = Emitter::default();
        let mut stakes: HashMap<Party, Vec<&Holding>> = HashMap::new();
        for holding in &self.holdings {
            stakes.entry(holding.holder).or_default().push(holding);
        }
        self.emit_reference_parties(&mut out, &stakes);
        self.emit_companies(&mut out, &stakes, truth);
        self.emit_persons(&mut out, &stakes);
        self.emit_holdings(&mut out);
        self.emit_loans(&mut out);
        self.emit_actions(&mut out);
        emit_articles(&mut out, articles);
        out.triples
    }

    /// Jurisdictions, regulators, banks and funds (with their stakes).
    fn emit_reference_parties(&self, out: &mut Emitter, stakes: &HashMap<Party, Vec<&Holding>>) {
        for (j, spec) in JURISDICTIONS.iter().enumerate() {
            let s = jurisdiction_iri(j);
            out.typed(&s, "Jurisdiction");
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(spec.name));
            let tier = ["low", "medium", "high"][usize::from(spec.tier - 1)];
            out.add(
                &s,
                rdfs::COMMENT,
                Literal::new_simple_literal(format!("{} ({tier} country risk).", spec.name)),
            );
            out.add(
                &s,
                risk("riskTier"),
                Literal::new_typed_literal(spec.tier.to_string(), xsd::INTEGER),
            );
        }
        for (r, spec) in REGULATORS.iter().enumerate() {
            let s = regulator_iri(r);
            out.typed(&s, "Regulator");
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(spec.name));
            let role = if spec.sanctions {
                "administers financial sanctions"
            } else {
                "supervises banks and securities markets"
            };
            out.add(
                &s,
                rdfs::COMMENT,
                Literal::new_simple_literal(format!("Public authority that {role}.")),
            );
            out.add(
                &s,
                risk("incorporatedIn"),
                jurisdiction_iri(jurisdiction_index(spec.jurisdiction)),
            );
        }
        for (b, bank) in self.banks.iter().enumerate() {
            let s = Party::Bank(b).iri();
            out.typed(&s, "Bank");
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(&bank.name));
            out.add(
                &s,
                risk("incorporatedIn"),
                jurisdiction_iri(bank.jurisdiction),
            );
        }
        for (f, fund) in self.funds.iter().enumerate() {
            let s = Party::Fund(f).iri();
            out.typed(&s, "Fund");
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(&fund.name));
            out.add(
                &s,
                risk("incorporatedIn"),
                jurisdiction_iri(fund.jurisdiction),
            );
            emit_stakes(out, &s, stakes, Party::Fund(f));
        }
    }

    /// Companies: name, description, sector, jurisdiction, group, board, owners, stakes and the risk label.
    fn emit_companies(
        &self,
        out: &mut Emitter,
        stakes: &HashMap<Party, Vec<&Holding>>,
        truth: &[CompanyTruth],
    ) {
        let mut children: Vec<Vec<usize>> = vec![Vec::new(); self.companies.len()];
        for (c, company) in self.companies.iter().enumerate() {
            if let Some(p) = company.parent {
                children[p].push(c);
            }
        }
        for (c, company) in self.companies.iter().enumerate() {
            let s = Party::Company(c).iri();
            out.typed(&s, "Company");
            if company.parent.is_some() {
                out.typed(&s, "Subsidiary");
            }
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(&company.name));
            out.add(
                &s,
                rdfs::COMMENT,
                Literal::new_simple_literal(self.describe(c)),
            );
            out.add(
                &s,
                risk("sector"),
                Literal::new_simple_literal(SECTORS[company.sector].name),
            );
            out.add(
                &s,
                risk("incorporatedIn"),
                jurisdiction_iri(company.jurisdiction),
            );
            for &child in &children[c] {
                out.add(&s, risk("hasSubsidiary"), Party::Company(child).iri());
            }
            for &d in &company.directors {
                out.add(&s, risk("hasDirector"), Party::Person(d).iri());
            }
            for &p in &company.beneficial_owners {
                out.add(&s, risk("hasBeneficialOwner"), Party::Person(p).iri());
            }
            emit_stakes(out, &s, stakes, Party::Company(c));
            let level = if truth[c].high_risk {
                "HighRisk"
            } else {
                "LowRisk"
            };
            out.add(&s, risk("riskLabel"), risk(level));
        }
    }

    /// Persons and their stakes.
    fn emit_persons(&self, out: &mut Emitter, stakes: &HashMap<Party, Vec<&Holding>>) {
        for (p, name) in self.persons.iter().enumerate() {
            let s = Party::Person(p).iri();
            out.typed(&s, "Person");
            out.add(&s, rdfs::LABEL, Literal::new_simple_literal(name));
            emit_stakes(out, &s, stakes, Party::Person(p));
        }
    }

    /// Shareholdings as nodes of their own, with the percentage.
    fn emit_holdings(&self, out: &mut Emitter) {
        for (h, holding) in self.holdings.iter().enumerate() {
            let s = data_iri("holding", h);
            out.typed(&s, "Shareholding");
            out.add(
                &s,
                rdfs::LABEL,
                Literal::new_simple_literal(format!("Shareholding H-{h:05}")),
            );
            out.add(&s, risk("shareholder"), holding.holder.iri());
            out.add(&s, risk("heldEntity"), Party::Company(holding.held).iri());
            out.add(
                &s,
                risk("sharePercentage"),
                decimal(format!(
                    "{}.{:02}",
                    holding.hundredths / 100,
                    holding.hundredths % 100
                )),
            );
        }
    }

    /// Loans and their credit events.
    fn emit_loans(&self, out: &mut Emitter) {
        let mut events = 0;
        for (l, loan) in self.loans.iter().enumerate() {
            let s = data_iri("loan", l);
            out.typed(&s, "Loan");
            out.add(
                &s,
                rdfs::LABEL,
                Literal::new_simple_literal(format!("Loan L-{l:05}")),
            );
            out.add(&s, risk("borrower"), Party::Company(loan.borrower).iri());
            out.add(&s, risk("lender"), Party::Bank(loan.lender).iri());
            out.add(
                &s,
                risk("principalAmount"),
                decimal(loan.amount.to_string()),
            );
            out.add(
                &s,
                risk("currency"),
                Literal::new_simple_literal(loan.currency),
            );
            if let Some((kind, day)) = loan.event {
                let e = data_iri("event", events);
                events += 1;
                let (class, what) = match kind {
                    CreditEventKind::Default => ("Default", "Default"),
                    CreditEventKind::Restructuring => ("Restructuring", "Restructuring"),
                };
                out.typed(&e, class);
                out.add(
                    &e,
                    rdfs::LABEL,
                    Literal::new_simple_literal(format!("{what} on loan L-{l:05}")),
                );
                out.add(&e, risk("onLoan"), s);
                out.add(&e, risk("eventDate"), day.literal());
            }
        }
    }

    /// Sanctions and enforcement actions.
    fn emit_actions(&self, out: &mut Emitter) {
        for (a, action) in self.actions.iter().enumerate() {
            let s = data_iri("action", a);
            let (class, what) = match action.kind {
                ActionKind::Sanction => ("Sanction", "Sanction"),
                ActionKind::Enforcement => ("EnforcementAction", "Enforcement action"),
            };
            out.typed(&s, class);
            out.add(
                &s,
                rdfs::LABEL,
                Literal::new_simple_literal(format!("{what} A-{a:04}")),
            );
            out.add(&s, risk("targets"), action.target.iri());
            out.add(&s, risk("issuedBy"), regulator_iri(action.regulator));
            out.add(&s, risk("actionDate"), action.date.literal());
        }
    }

    fn describe(&self, c: usize) -> String {
        let company = &self.companies[c];
        let sector = &SECTORS[company.sector];
        let activity = sector.activities[company.activity];
        format!(
            "{} {activity}. Founded in {}, it is active in the {} sector.",
            company.name,
            company.founded,
            sector.name.to_lowercase()
        )
    }
}

/// News articles, their mentions and the mentions' character spans.
fn emit_articles(out: &mut Emitter, articles: &[Article]) {
    for (a, article) in articles.iter().enumerate() {
        let s = data_iri("article", a);
        out.typed(&s, "NewsArticle");
        out.add(
            &s,
            rdfs::LABEL,
            Literal::new_simple_literal(&article.headline),
        );
        out.add(
            &s,
            risk("headline"),
            Literal::new_simple_literal(&article.headline),
        );
        out.add(
            &s,
            risk("articleText"),
            Literal::new_simple_literal(&article.text),
        );
        out.add(&s, risk("publishedOn"), article.published.literal());
        let mut mentioned: Vec<Party> = Vec::new();
        for (party, _, _) in &article.mentions {
            if !mentioned.contains(party) {
                mentioned.push(*party);
                out.add(&s, risk("mentions"), party.iri());
            }
        }
        for (k, (party, start, end)) in article.mentions.iter().enumerate() {
            let m = NamedNode::new_unchecked(format!("{DATA_NS}mention/{a:04}-{k}"));
            out.typed(&m, "Mention");
            out.add(&m, risk("inArticle"), s.clone());
            out.add(&m, risk("mentionOf"), party.iri());
            out.add(
                &m,
                risk("startChar"),
                Literal::new_typed_literal(start.to_string(), xsd::INTEGER),
            );
            out.add(
                &m,
                risk("endChar"),
                Literal::new_typed_literal(end.to_string(), xsd::INTEGER),
            );
        }
    }
}

/// `ownsSharesIn` for every stake of `holder`, plus `directlyControls` for
/// majority stakes that are not parent–subsidiary links (those are
/// `hasSubsidiary`, a sub-property of `directlyControls`).
fn emit_stakes(
    out: &mut Emitter,
    subject: &NamedNode,
    stakes: &HashMap<Party, Vec<&Holding>>,
    holder: Party,
) {
    for holding in stakes.get(&holder).into_iter().flatten() {
        let held = Party::Company(holding.held).iri();
        out.add(subject, risk("ownsSharesIn"), held.clone());
        if holding.controlling() && !matches!(holder, Party::Company(_)) {
            out.add(subject, risk("directlyControls"), held);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Tone {
    Adverse,
    Neutral,
    Setback,
}

/// Values for the non-name placeholders of one article.
struct Filler {
    amount: String,
    pct: String,
    count: String,
    city: String,
    month: String,
}

/// Builds text while recording where names land, in chars.
#[derive(Default)]
struct TextBuilder {
    text: String,
    chars: usize,
    mentions: Vec<(Party, usize, usize)>,
}

impl TextBuilder {
    fn push_str(&mut self, s: &str) {
        self.text.push_str(s);
        self.chars += s.chars().count();
    }

    fn push_name(&mut self, world: &World, party: Party) {
        let start = self.chars;
        self.push_str(world.label(party));
        self.mentions.push((party, start, self.chars));
    }

    /// Expands `template`; `{S}` and `{P}` must be given when the template
    /// uses them (the word lists guarantee which templates do).
    fn push_template(
        &mut self,
        template: &str,
        fill: &Filler,
        world: &World,
        subject: Party,
        secondary: Option<Party>,
        person: Option<Party>,
    ) {
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            self.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let Some(close) = after.find('}') else {
                self.push_str(&rest[open..]);
                return;
            };
            match &after[..close] {
                "C" => self.push_name(world, subject),
                "S" => self.push_name(world, secondary.unwrap_or(subject)),
                "P" => self.push_name(world, person.unwrap_or(subject)),
                "AMOUNT" => self.push_str(&fill.amount),
                "PCT" => self.push_str(&fill.pct),
                "N" => self.push_str(&fill.count),
                "CITY" => self.push_str(&fill.city),
                "MONTH" => self.push_str(&fill.month),
                other => {
                    self.push_str("{");
                    self.push_str(other);
                    self.push_str("}");
                }
            }
            rest = &after[close + 1..];
        }
        self.push_str(rest);
    }
}

/// Keeps every generated name unique across all kinds of party, so that a
/// label identifies one node.
#[derive(Default)]
struct NameBook {
    used: HashSet<String>,
}

impl NameBook {
    fn claim(&mut self, candidate: String) -> Option<String> {
        self.used.insert(candidate.clone()).then_some(candidate)
    }

    /// Draws candidates (the closure gets the attempt number, so it can fall
    /// back to numbered names) until one is not taken.
    fn fresh(
        &mut self,
        rng: &mut ChaCha8Rng,
        mut candidate: impl FnMut(&mut ChaCha8Rng, usize) -> String,
    ) -> String {
        for attempt in 0.. {
            if let Some(name) = self.claim(candidate(rng, attempt)) {
                return name;
            }
        }
        unreachable!("the numbered fallback always yields a fresh name")
    }

    fn company(
        &mut self,
        rng: &mut ChaCha8Rng,
        stem: &str,
        sector: usize,
        jurisdiction: &JurisdictionSpec,
    ) -> String {
        let words = SECTORS[sector].name_words;
        self.fresh(rng, |rng, attempt| {
            let stem = if attempt < 4 {
                stem
            } else {
                pick(rng, NAME_STEMS)
            };
            let word = pick(rng, words);
            let descriptor = pick(rng, DESCRIPTORS);
            let suffix = pick(rng, jurisdiction.suffixes);
            let base = match rng.random_range(0..10) {
                0..=4 => format!("{stem} {word} {descriptor}"),
                5..=8 => format!("{stem} {word}"),
                _ => format!("{stem} {descriptor}"),
            };
            // Past a few dozen collisions the plain combinations are
            // exhausted for this sector, so number the entity.
            if attempt < 32 {
                format!("{base} {suffix}")
            } else {
                format!("{base} {} {suffix}", attempt - 30)
            }
        })
    }

    fn person(&mut self, rng: &mut ChaCha8Rng) -> String {
        self.fresh(rng, |rng, attempt| {
            let first = pick(rng, FIRST_NAMES);
            let last = pick(rng, SURNAMES);
            let initial = char::from(b'A' + rng.random_range(0..26u8));
            match attempt {
                0..8 => format!("{first} {last}"),
                8..64 => format!("{first} {initial}. {last}"),
                // Only reached with hundreds of thousands of people.
                _ => format!("{first} {initial}. {last} {}", series_mark(attempt)),
            }
        })
    }

    fn fund(&mut self, rng: &mut ChaCha8Rng) -> String {
        self.fresh(rng, |rng, attempt| {
            let base = format!("{} {}", pick(rng, NAME_STEMS), pick(rng, FUND_FORMS));
            numbered_after(base, attempt, 8)
        })
    }

    fn bank(&mut self, rng: &mut ChaCha8Rng, jurisdiction: &JurisdictionSpec) -> String {
        self.fresh(rng, |rng, attempt| {
            let front = if rng.random_bool(0.5) {
                pick(rng, jurisdiction.cities)
            } else {
                pick(rng, NAME_STEMS)
            };
            numbered_after(format!("{front} {}", pick(rng, BANK_FORMS)), attempt, 8)
        })
    }
}

/// `base` for the first `plain` attempts, then `base` with a series mark.
fn numbered_after(base: String, attempt: usize, plain: usize) -> String {
    if attempt < plain {
        base
    } else {
        format!("{base} {}", series_mark(attempt - 6))
    }
}

/// Collects triples; subjects are written in blocks so the Turtle groups them.
#[derive(Default)]
struct Emitter {
    triples: Vec<Triple>,
}

impl Emitter {
    fn add(&mut self, s: &NamedNode, p: impl Into<NamedNode>, o: impl Into<Term>) {
        self.triples.push(Triple::new(s.clone(), p, o));
    }

    fn typed(&mut self, s: &NamedNode, class: &str) {
        self.add(s, rdf::TYPE, risk(class));
    }
}

/// A calendar day, as days since 1970-01-01.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Day(i64);

impl Day {
    /// (year, month 1–12, day 1–31), after Howard Hinnant's `civil_from_days`.
    fn civil(self) -> (i64, u32, u32) {
        let z = self.0 + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = (if mp < 10 { mp + 3 } else { mp - 9 }) as u32;
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    fn literal(self) -> Literal {
        let (y, m, d) = self.civil();
        Literal::new_typed_literal(format!("{y:04}-{m:02}-{d:02}"), xsd::DATE)
    }
}

/// A day in 2018–2024.
fn random_day(rng: &mut ChaCha8Rng) -> Day {
    Day(rng.random_range(17_532..=20_088))
}

fn risk(local: &str) -> NamedNode {
    NamedNode::new_unchecked(format!("{RISK_NS}{local}"))
}

/// An xsd:decimal written in its canonical form ("25.5", "100"), the form
/// a store keeps, so that loading the file changes no literal.
fn decimal(lexical: String) -> Literal {
    let canonical = lexical
        .parse::<oxsdatatypes::Decimal>()
        .map_or(lexical, |value| value.to_string());
    Literal::new_typed_literal(canonical, xsd::DECIMAL)
}

fn data_iri(kind: &str, index: usize) -> NamedNode {
    NamedNode::new_unchecked(format!("{DATA_NS}{kind}/{index:04}"))
}

fn regulator_iri(index: usize) -> NamedNode {
    NamedNode::new_unchecked(format!("{DATA_NS}regulator/{}", REGULATORS[index].slug))
}

fn jurisdiction_iri(index: usize) -> NamedNode {
    NamedNode::new_unchecked(format!(
        "{DATA_NS}jurisdiction/{}",
        JURISDICTIONS[index].code
    ))
}

fn jurisdiction_index(code: &str) -> usize {
    // Invariant: only called with codes that appear in JURISDICTIONS (word
    // list constants), checked by the `regulators_and_funds_use_known_codes` test.
    JURISDICTIONS
        .iter()
        .position(|j| j.code == code)
        .unwrap_or(0)
}

/// The leading name stem of a company name, for naming its subsidiaries.
fn group_stem(name: &str) -> &'static str {
    NAME_STEMS
        .iter()
        .copied()
        .filter(|stem| name.starts_with(stem))
        .max_by_key(|s| s.len())
        .unwrap_or(NAME_STEMS[0])
}

fn pick<T: Copy>(rng: &mut ChaCha8Rng, items: &[T]) -> T {
    // Invariant: callers pass the non-empty word lists or pools built above.
    items[rng.random_range(0..items.len())]
}

/// Index drawn with probability proportional to `weights` (not all zero).
fn weighted(rng: &mut ChaCha8Rng, weights: &[u32]) -> usize {
    let total: u32 = weights.iter().sum();
    let mut roll = rng.random_range(0..total);
    for (i, &w) in weights.iter().enumerate() {
        if roll < w {
            return i;
        }
        roll -= w;
    }
    weights.len() - 1
}

fn round_significant(value: f64, digits: i32) -> u64 {
    let magnitude = 10f64.powi(value.log10().floor() as i32 + 1 - digits);
    ((value / magnitude).round() * magnitude) as u64
}

/// "EUR 4.5 million", "USD 1.2 billion".
fn money(amount: u64, rng: &mut ChaCha8Rng) -> String {
    let currency = ["EUR", "USD", "GBP", "NOK", "CHF"][weighted(rng, &[35, 35, 15, 8, 7])];
    let amount = amount as f64;
    if amount >= 1e9 {
        format!("{currency} {:.1} billion", amount / 1e9)
    } else if amount >= 1e7 {
        format!("{currency} {:.0} million", amount / 1e6)
    } else {
        format!("{currency} {:.1} million", amount / 1e6)
    }
}

/// "II", "III", … for the first few members of a series, then plain numbers.
fn series_mark(n: usize) -> String {
    const NUMERALS: &[&str] = &["II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"];
    NUMERALS
        .get(n.wrapping_sub(2))
        .map_or_else(|| n.to_string(), |s| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::io::RdfParser;
    use oxigraph::model::NamedOrBlankNode;
    use std::collections::BTreeSet;

    const ONTOLOGY: &str = include_str!("../../ontologies/risk.ttl");
    const OWL: &str = "http://www.w3.org/2002/07/owl#";

    fn owl(local: &str) -> NamedNode {
        NamedNode::new_unchecked(format!("{OWL}{local}"))
    }

    fn small(seed: u64) -> FinanceGraph {
        generate(&FinanceConfig {
            companies: 300,
            seed,
            ..FinanceConfig::default()
        })
    }

    fn ontology() -> Vec<Triple> {
        RdfParser::from_format(RdfFormat::Turtle)
            .for_reader(ONTOLOGY.as_bytes())
            .map(|quad| Triple::from(quad.expect("ontologies/risk.ttl is valid Turtle")))
            .collect()
    }

    fn node(term: &Term) -> Option<&NamedNode> {
        match term {
            Term::NamedNode(n) => Some(n),
            _ => None,
        }
    }

    fn literal(term: &Term) -> &Literal {
        match term {
            Term::Literal(l) => l,
            other => panic!("expected a literal, found {other}"),
        }
    }

    /// `subject -> objects` for one predicate.
    fn index<'a>(
        triples: &'a [Triple],
        predicate: &NamedNode,
    ) -> HashMap<&'a NamedNode, Vec<&'a Term>> {
        let mut map: HashMap<&NamedNode, Vec<&Term>> = HashMap::new();
        for t in triples.iter().filter(|t| &t.predicate == predicate) {
            if let NamedOrBlankNode::NamedNode(s) = &t.subject {
                map.entry(s).or_default().push(&t.object);
            }
        }
        map
    }

    #[test]
    fn same_seed_gives_identical_output() {
        let (a, b) = (small(7), small(7));
        assert_eq!(a.triples, b.triples);
        let (mut ta, mut tb) = (Vec::new(), Vec::new());
        write_turtle(&a, &mut ta).unwrap();
        write_turtle(&b, &mut tb).unwrap();
        assert_eq!(ta, tb);
    }

    #[test]
    fn turtle_round_trips() {
        let g = small(9);
        let mut turtle = Vec::new();
        write_turtle(&g, &mut turtle).unwrap();
        let parsed: HashSet<Triple> = RdfParser::from_format(RdfFormat::Turtle)
            .for_reader(turtle.as_slice())
            .map(|quad| Triple::from(quad.unwrap()))
            .collect();
        assert_eq!(parsed, g.triples.iter().cloned().collect::<HashSet<_>>());
        assert!(String::from_utf8(turtle)
            .unwrap()
            .contains("company:0042 a risk:Company"));
    }

    #[test]
    fn different_seeds_differ() {
        assert_ne!(small(1).triples, small(2).triples);
    }

    #[test]
    fn noise_does_not_change_the_structure() {
        let clean = generate(&FinanceConfig {
            label_noise: 0.0,
            ..FinanceConfig::default()
        });
        let noisy = generate(&FinanceConfig {
            label_noise: 0.3,
            ..FinanceConfig::default()
        });
        let label = risk("riskLabel");
        let strip = |g: &FinanceGraph| {
            g.triples
                .iter()
                .filter(|t| t.predicate != label)
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(strip(&clean), strip(&noisy));
        assert_eq!(clean.summary.flipped_labels, 0);
        for t in &clean.truth {
            assert_eq!(t.high_risk, t.adverse_news && t.exposure.any());
        }
    }

    #[test]
    fn mention_spans_match_labels() {
        let g = small(3);
        let texts = index(&g.triples, &risk("articleText"));
        let labels = index(&g.triples, &rdfs::LABEL.into_owned());
        let in_article = index(&g.triples, &risk("inArticle"));
        let of = index(&g.triples, &risk("mentionOf"));
        let start = index(&g.triples, &risk("startChar"));
        let end = index(&g.triples, &risk("endChar"));
        assert!(in_article.len() > 1000);
        let mut non_ascii = 0;
        for (mention, article) in &in_article {
            let text = literal(texts[node(article[0]).unwrap()][0]).value();
            let entity = node(of[mention][0]).unwrap();
            let label = literal(labels[entity][0]).value();
            let s: usize = literal(start[mention][0]).value().parse().unwrap();
            let e: usize = literal(end[mention][0]).value().parse().unwrap();
            let slice: String = text.chars().skip(s).take(e - s).collect();
            assert_eq!(slice, label, "mention {mention}");
            if !text.is_ascii() {
                non_ascii += 1;
            }
        }
        // Char and byte offsets differ in these, so the check above means something.
        assert!(non_ascii > 100);
    }

    #[test]
    fn labels_are_balanced_and_size_is_as_documented() {
        for seed in [1, 2, 3, 42] {
            let g = small(seed);
            let share = g.summary.high_risk as f64 / g.summary.companies as f64;
            assert!((0.25..=0.45).contains(&share), "seed {seed}: {share}");
            let per_company = g.triples.len() as f64 / g.summary.companies as f64;
            assert!(
                (40.0..=80.0).contains(&per_company),
                "seed {seed}: {per_company}"
            );
            assert_eq!(g.summary.triples, g.triples.len());
        }
    }

    /// Neither side alone predicts the label well; both together do.
    #[test]
    fn label_needs_text_and_structure() {
        let g = generate(&FinanceConfig {
            companies: 2000,
            ..FinanceConfig::default()
        });
        let accuracy = |predict: &dyn Fn(&CompanyTruth) -> bool| {
            g.truth.iter().filter(|t| predict(t) == t.high_risk).count() as f64
                / g.truth.len() as f64
        };
        let fused = accuracy(&|t| t.adverse_news && t.exposure.any());
        let text_only = accuracy(&|t| t.adverse_news);
        let graph_only = accuracy(&|t| t.exposure.any());
        let majority = accuracy(&|_| false);
        assert!(fused > 0.9, "{fused}");
        for single in [text_only, graph_only, majority] {
            assert!(
                single < fused - 0.12,
                "single-view accuracy {single} vs fused {fused}"
            );
        }
        // Adverse press and exposure each occur among low-risk companies too.
        let low = g.truth.iter().filter(|t| !t.high_risk && !t.label_flipped);
        let (adverse_low, exposed_low) = low.fold((0, 0), |(a, e), t| {
            (
                a + usize::from(t.adverse_news),
                e + usize::from(t.exposure.any()),
            )
        });
        assert!(
            adverse_low > 200 && exposed_low > 200,
            "{adverse_low} {exposed_low}"
        );
    }

    /// Recomputes each company's exposure from the triples alone, so the
    /// label formula of data/README.md is checkable against the graph.
    #[test]
    fn exposure_is_recoverable_from_the_graph() {
        let g = small(5);
        let t = &g.triples;
        let types = index(t, &rdf::TYPE.into_owned());
        let is_a = |n: &NamedNode, class: &str| {
            types
                .get(n)
                .is_some_and(|v| v.iter().any(|c| **c == Term::from(risk(class))))
        };
        let mut parent: HashMap<&NamedNode, &NamedNode> = HashMap::new();
        for (p, children) in index(t, &risk("hasSubsidiary")) {
            for c in children {
                parent.insert(node(c).unwrap(), p);
            }
        }
        let fund_controller: HashMap<&NamedNode, &NamedNode> = index(t, &risk("directlyControls"))
            .into_iter()
            .filter(|(s, _)| is_a(s, "Fund"))
            .flat_map(|(f, held)| held.into_iter().map(move |h| (node(h).unwrap(), f)))
            .collect();
        let owners = index(t, &risk("hasBeneficialOwner"));
        let directors = index(t, &risk("hasDirector"));
        let targets = index(t, &risk("targets"));
        let sanctioned: HashSet<&NamedNode> = targets
            .iter()
            .filter(|(a, _)| is_a(a, "Sanction"))
            .flat_map(|(_, v)| v.iter().map(|x| node(x).unwrap()))
            .collect();
        let on_loan = index(t, &risk("onLoan"));
        let borrower = index(t, &risk("borrower"));
        let defaulted: HashSet<&NamedNode> = on_loan
            .iter()
            .filter(|(e, _)| is_a(e, "Default"))
            .map(|(_, loan)| node(borrower[node(loan[0]).unwrap()][0]).unwrap())
            .collect();
        let incorporated = index(t, &risk("incorporatedIn"));
        let tiers = index(t, &risk("riskTier"));
        let tier3 =
            |n: &NamedNode| literal(tiers[node(incorporated[n][0]).unwrap()][0]).value() == "3";

        for truth in &g.truth {
            let c = &truth.iri;
            let mut chain = vec![c];
            while let Some(p) = parent.get(chain[chain.len() - 1]) {
                chain.push(p);
            }
            let sanctioned_control = chain.iter().any(|x| {
                sanctioned.contains(x)
                    || fund_controller
                        .get(x)
                        .is_some_and(|f| sanctioned.contains(f))
                    || owners
                        .get(x)
                        .into_iter()
                        .flatten()
                        .any(|p| sanctioned.contains(node(p).unwrap()))
            });
            let offshore_control = chain
                .iter()
                .any(|x| tier3(x) || fund_controller.get(x).is_some_and(|f| tier3(f)));
            let tainted_director = directors[c].iter().any(|d| {
                directors.iter().any(|(other, board)| {
                    *other != c
                        && board.contains(d)
                        && (sanctioned.contains(other) || defaulted.contains(other))
                })
            });
            let expected = Exposure {
                sanctioned_control,
                offshore_control,
                tainted_director,
                defaulted_loan: defaulted.contains(c),
            };
            assert_eq!(truth.exposure, expected, "{c}");
            let label = if truth.high_risk {
                risk("HighRisk")
            } else {
                risk("LowRisk")
            };
            assert!(t.contains(&Triple::new(c.clone(), risk("riskLabel"), label)));
        }
    }

    #[test]
    fn regulators_and_funds_use_known_codes() {
        for code in REGULATORS
            .iter()
            .map(|r| r.jurisdiction)
            .chain(["KY", "LU", "US-DE", "GB", "VG", "CH"])
        {
            assert!(JURISDICTIONS.iter().any(|j| j.code == code), "{code}");
        }
    }

    /// Every class, property and individual the generator uses is declared in
    /// the ontology, and every triple respects the declared domain and range
    /// (closed under rdfs:subClassOf and rdfs:subPropertyOf).
    #[test]
    fn vocabulary_is_declared_and_respected() {
        let onto = ontology();
        let declared = |kinds: &[NamedNode]| -> HashSet<NamedNode> {
            onto.iter()
                .filter(|t| {
                    t.predicate == rdf::TYPE
                        && kinds.iter().any(|k| t.object == Term::from(k.clone()))
                })
                .filter_map(|t| match &t.subject {
                    NamedOrBlankNode::NamedNode(n) => Some(n.clone()),
                    _ => None,
                })
                .collect()
        };
        let classes = declared(&[owl("Class")]);
        let properties = declared(&[owl("ObjectProperty"), owl("DatatypeProperty")]);
        let individuals = declared(&[owl("NamedIndividual")]);
        for term in classes.iter().chain(&properties).chain(&individuals) {
            for annotation in [rdfs::LABEL, rdfs::COMMENT] {
                assert!(
                    onto.iter()
                        .any(|t| t.subject == term.clone().into() && t.predicate == annotation),
                    "{term} lacks {annotation}"
                );
            }
        }

        let g = small(11);
        let builtin = [
            rdf::TYPE.into_owned(),
            rdfs::LABEL.into_owned(),
            rdfs::COMMENT.into_owned(),
        ];
        let mut used = BTreeSet::new();
        for t in &g.triples {
            if !builtin.contains(&t.predicate) {
                assert!(
                    properties.contains(&t.predicate),
                    "undeclared property {}",
                    t.predicate
                );
            }
            if let Some(o) = node(&t.object) {
                if t.predicate == rdf::TYPE {
                    assert!(classes.contains(o), "undeclared class {o}");
                } else if o.as_str().starts_with(RISK_NS) {
                    assert!(individuals.contains(o), "undeclared individual {o}");
                }
            }
            used.insert(t.predicate.clone());
        }

        // Domain and range checks against asserted types plus superclasses.
        let supers = |graph: &[Triple], p: &NamedNode| {
            let mut map: HashMap<NamedNode, Vec<NamedNode>> = HashMap::new();
            for t in graph.iter().filter(|t| &t.predicate == p) {
                if let (NamedOrBlankNode::NamedNode(s), Some(o)) = (&t.subject, node(&t.object)) {
                    map.entry(s.clone()).or_default().push(o.clone());
                }
            }
            map
        };
        let closure = |start: &NamedNode, edges: &HashMap<NamedNode, Vec<NamedNode>>| {
            let mut seen = vec![start.clone()];
            let mut i = 0;
            while i < seen.len() {
                for next in edges.get(&seen[i]).into_iter().flatten() {
                    if !seen.contains(next) {
                        seen.push(next.clone());
                    }
                }
                i += 1;
            }
            seen
        };
        let subclass = supers(&onto, &rdfs::SUB_CLASS_OF.into_owned());
        let subproperty = supers(&onto, &rdfs::SUB_PROPERTY_OF.into_owned());
        let domain = supers(&onto, &rdfs::DOMAIN.into_owned());
        let range = supers(&onto, &rdfs::RANGE.into_owned());
        let mut types: HashMap<Term, Vec<NamedNode>> = HashMap::new();
        for t in onto
            .iter()
            .chain(&g.triples)
            .filter(|t| t.predicate == rdf::TYPE)
        {
            if let Some(class) = node(&t.object) {
                types
                    .entry(Term::from(t.subject.clone()))
                    .or_default()
                    .extend(closure(class, &subclass));
            }
        }
        for t in g.triples.iter().filter(|t| !builtin.contains(&t.predicate)) {
            for p in closure(&t.predicate, &subproperty) {
                for d in domain.get(&p).into_iter().flatten() {
                    assert!(
                        types[&Term::from(t.subject.clone())].contains(d),
                        "{t}: subject not a {d}"
                    );
                }
                for r in range.get(&p).into_iter().flatten() {
                    match &t.object {
                        Term::Literal(l) => assert_eq!(l.datatype(), r.as_ref(), "{t}"),
                        object => assert!(
                            types.get(object).is_some_and(|v| v.contains(r)),
                            "{t}: object not a {r}"
                        ),
                    }
                }
            }
        }
        assert!(used.len() > 25);
    }
}
