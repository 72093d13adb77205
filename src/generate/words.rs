//! Seeded word lists for the synthetic finance graph: names, jurisdictions,
//! sectors, regulators and the sentence templates news articles are built from.
//!
//! Templates use `{C}` for the article's subject company, `{S}` for another
//! company, `{P}` for a person, and `{AMOUNT}`, `{PCT}`, `{N}`, `{CITY}`,
//! `{MONTH}` for filler values. Adverse wording lives only in
//! [`ADVERSE_STORIES`] and [`ADVERSE_DETAILS`]; the secondary-mention sentences
//! are shared by every kind of article so that a company's news tone can only be
//! read off the sentences that name it as the subject.

/// A jurisdiction the generator incorporates entities in.
pub struct JurisdictionSpec {
    /// ISO 3166-style code, used in the IRI.
    pub code: &'static str,
    pub name: &'static str,
    /// 1 = low, 2 = medium, 3 = high country risk.
    pub tier: u8,
    /// Legal-form suffixes; several are shared across tiers on purpose, so a
    /// company's name only weakly reveals where it is incorporated.
    pub suffixes: &'static [&'static str],
    pub cities: &'static [&'static str],
    pub currency: &'static str,
    /// Relative frequency of incorporations here.
    pub weight: u32,
}

pub const JURISDICTIONS: &[JurisdictionSpec] = &[
    JurisdictionSpec {
        code: "DE",
        name: "Germany",
        tier: 1,
        suffixes: &["GmbH", "AG"],
        cities: &["Frankfurt", "Hamburg", "Munich", "Düsseldorf"],
        currency: "EUR",
        weight: 10,
    },
    JurisdictionSpec {
        code: "NO",
        name: "Norway",
        tier: 1,
        suffixes: &["AS", "ASA"],
        cities: &["Oslo", "Bergen", "Stavanger", "Tromsø"],
        currency: "NOK",
        weight: 7,
    },
    JurisdictionSpec {
        code: "GB",
        name: "United Kingdom",
        tier: 1,
        suffixes: &["Ltd", "plc", "LLP"],
        cities: &["London", "Manchester", "Edinburgh", "Leeds"],
        currency: "GBP",
        weight: 12,
    },
    JurisdictionSpec {
        code: "NL",
        name: "Netherlands",
        tier: 1,
        suffixes: &["B.V.", "N.V."],
        cities: &["Amsterdam", "Rotterdam", "Utrecht", "Eindhoven"],
        currency: "EUR",
        weight: 7,
    },
    JurisdictionSpec {
        code: "CA",
        name: "Canada",
        tier: 1,
        suffixes: &["Inc.", "Ltd"],
        cities: &["Toronto", "Vancouver", "Montréal", "Calgary"],
        currency: "CAD",
        weight: 6,
    },
    JurisdictionSpec {
        code: "SG",
        name: "Singapore",
        tier: 1,
        suffixes: &["Pte. Ltd."],
        cities: &["Singapore"],
        currency: "SGD",
        weight: 5,
    },
    JurisdictionSpec {
        code: "CH",
        name: "Switzerland",
        tier: 1,
        suffixes: &["AG", "SA", "GmbH"],
        cities: &["Zürich", "Geneva", "Basel", "Zug"],
        currency: "CHF",
        weight: 6,
    },
    JurisdictionSpec {
        code: "US-DE",
        name: "Delaware (United States)",
        tier: 2,
        suffixes: &["Inc.", "LLC", "Corp."],
        cities: &["Wilmington", "New York", "Chicago", "Houston"],
        currency: "USD",
        weight: 11,
    },
    JurisdictionSpec {
        code: "LU",
        name: "Luxembourg",
        tier: 2,
        suffixes: &["S.A.", "S.à r.l."],
        cities: &["Luxembourg", "Esch-sur-Alzette"],
        currency: "EUR",
        weight: 6,
    },
    JurisdictionSpec {
        code: "CY",
        name: "Cyprus",
        tier: 2,
        suffixes: &["Ltd"],
        cities: &["Limassol", "Nicosia", "Larnaca"],
        currency: "EUR",
        weight: 5,
    },
    JurisdictionSpec {
        code: "HK",
        name: "Hong Kong",
        tier: 2,
        suffixes: &["Limited", "Ltd"],
        cities: &["Hong Kong"],
        currency: "HKD",
        weight: 6,
    },
    JurisdictionSpec {
        code: "AE",
        name: "United Arab Emirates",
        tier: 2,
        suffixes: &["LLC", "FZE", "FZCO"],
        cities: &["Dubai", "Abu Dhabi"],
        currency: "AED",
        weight: 5,
    },
    JurisdictionSpec {
        code: "KY",
        name: "Cayman Islands",
        tier: 3,
        suffixes: &["Ltd", "Limited"],
        cities: &["George Town"],
        currency: "USD",
        weight: 8,
    },
    JurisdictionSpec {
        code: "VG",
        name: "British Virgin Islands",
        tier: 3,
        suffixes: &["Ltd", "Limited", "Inc."],
        cities: &["Road Town"],
        currency: "USD",
        weight: 6,
    },
    JurisdictionSpec {
        code: "PA",
        name: "Panama",
        tier: 3,
        suffixes: &["S.A.", "Inc.", "Corp."],
        cities: &["Panama City", "Colón"],
        currency: "USD",
        weight: 5,
    },
];

/// An industry sector: words that go into company names and the phrases
/// that describe what such a company does.
pub struct SectorSpec {
    pub name: &'static str,
    pub name_words: &'static [&'static str],
    pub activities: &'static [&'static str],
}

pub const SECTORS: &[SectorSpec] = &[
    SectorSpec {
        name: "Shipping",
        name_words: &["Maritime", "Shipping", "Tankers", "Marine"],
        activities: &[
            "operates a fleet of dry-bulk carriers and product tankers",
            "provides ship management and chartering services",
            "runs container feeder services between regional ports",
        ],
    },
    SectorSpec {
        name: "Asset Management",
        name_words: &["Capital", "Asset Management", "Investments"],
        activities: &[
            "manages equity and fixed-income portfolios for institutional clients",
            "invests in mid-market private companies",
            "advises family offices on alternative investments",
        ],
    },
    SectorSpec {
        name: "Energy",
        name_words: &["Energy", "Power", "Renewables", "Petroleum"],
        activities: &[
            "develops onshore wind and solar parks",
            "trades electricity and natural gas on wholesale markets",
            "operates oil storage terminals and pipelines",
        ],
    },
    SectorSpec {
        name: "Logistics",
        name_words: &["Logistics", "Freight", "Transport"],
        activities: &[
            "runs bonded warehouses and cross-border trucking",
            "provides freight forwarding for industrial customers",
            "operates cold-chain distribution centres",
        ],
    },
    SectorSpec {
        name: "Real Estate",
        name_words: &["Properties", "Real Estate", "Estates"],
        activities: &[
            "owns and leases office buildings in city centres",
            "develops residential apartment projects",
            "manages a portfolio of logistics warehouses",
        ],
    },
    SectorSpec {
        name: "Mining",
        name_words: &["Mining", "Resources", "Minerals", "Metals"],
        activities: &[
            "operates copper and zinc mines",
            "explores for gold and lithium deposits",
            "trades iron ore and coking coal",
        ],
    },
    SectorSpec {
        name: "Construction",
        name_words: &["Construction", "Engineering", "Infrastructure"],
        activities: &[
            "builds roads, bridges and tunnels under public contracts",
            "provides engineering services for industrial plants",
            "constructs commercial buildings and hospitals",
        ],
    },
    SectorSpec {
        name: "Technology",
        name_words: &["Technologies", "Software", "Systems", "Digital"],
        activities: &[
            "develops payment software for banks and merchants",
            "builds data-centre and cloud infrastructure",
            "sells enterprise planning software to manufacturers",
        ],
    },
    SectorSpec {
        name: "Pharmaceuticals",
        name_words: &["Pharma", "Biosciences", "Life Sciences"],
        activities: &[
            "manufactures generic medicines",
            "develops diagnostics for infectious diseases",
            "runs clinical trials for biotech clients",
        ],
    },
    SectorSpec {
        name: "Commodities Trading",
        name_words: &["Trading", "Commodities", "Agri"],
        activities: &[
            "trades grain, oilseeds and sugar",
            "sources and ships fertiliser to distributors",
            "trades refined metals and concentrates",
        ],
    },
    SectorSpec {
        name: "Telecommunications",
        name_words: &["Telecom", "Networks", "Communications"],
        activities: &[
            "operates fibre networks and mobile towers",
            "provides wholesale voice and data services",
            "builds satellite ground stations",
        ],
    },
    SectorSpec {
        name: "Retail",
        name_words: &["Retail", "Stores", "Brands"],
        activities: &[
            "runs a chain of grocery stores",
            "sells consumer electronics online",
            "operates duty-free shops at airports",
        ],
    },
    SectorSpec {
        name: "Aviation",
        name_words: &["Aviation", "Aerospace", "Air Leasing"],
        activities: &[
            "leases narrow-body aircraft to airlines",
            "maintains and overhauls jet engines",
            "operates regional cargo flights",
        ],
    },
];

/// Extra words between the sector word and the legal suffix.
pub const DESCRIPTORS: &[&str] = &[
    "Holdings",
    "Group",
    "Partners",
    "International",
    "Industries",
    "Ventures",
    "Global",
];

pub const NAME_STEMS: &[&str] = &[
    "Halvorsen",
    "Brightwater",
    "Northgate",
    "Kestrel",
    "Stonebridge",
    "Ashford",
    "Crescent",
    "Meridian",
    "Silverline",
    "Nordvik",
    "Eastbrook",
    "Falkenberg",
    "Granite",
    "Harborview",
    "Ironwood",
    "Juniper",
    "Keystone",
    "Lindqvist",
    "Marlowe",
    "Oakmont",
    "Pinecrest",
    "Quayside",
    "Redfern",
    "Sølvberg",
    "Tidewater",
    "Vantage",
    "Westmoor",
    "Aurora",
    "Beacon",
    "Calder",
    "Driftwood",
    "Elmstead",
    "Fjordline",
    "Greystone",
    "Highland",
    "Isola",
    "Jadeport",
    "Kingsbridge",
    "Lakeshore",
    "Mistral",
    "Norrland",
    "Orion",
    "Peregrine",
    "Riverstone",
    "Summit",
    "Thornbury",
    "Ulvik",
    "Valemount",
    "Whitcombe",
    "Yarrow",
    "Zenith",
    "Amberley",
    "Bramhall",
    "Coldwater",
    "Dunmore",
    "Everhart",
    "Fairholm",
    "Goldcrest",
    "Hallstatt",
    "Blackridge",
    "Cobalt",
    "Delacroix",
    "Emberton",
    "Forsberg",
    "Gullfoss",
    "Hartwell",
    "Ivory Coast",
    "Järvinen",
    "Kowalczyk",
    "Larkspur",
    "Montclair",
    "Nakamura",
];

pub const FIRST_NAMES: &[&str] = &[
    "Miriam",
    "Anders",
    "Chloé",
    "Daniel",
    "Emeka",
    "Fatima",
    "Gunnar",
    "Hannah",
    "Ingrid",
    "Jonas",
    "Kenji",
    "Laila",
    "Marcus",
    "Ngozi",
    "Oliver",
    "Priya",
    "Quentin",
    "Rafael",
    "Sofia",
    "Thomas",
    "Ulrike",
    "Viktor",
    "Wei",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Aiko",
    "Björn",
    "Camila",
    "Dmitri",
    "Elena",
    "Farid",
    "Grace",
    "Henrik",
    "Isabel",
    "José",
    "Katarzyna",
    "Lukas",
    "Mei",
    "Nikolai",
    "Olga",
    "Pedro",
    "Rania",
    "Søren",
    "Tariq",
    "Valentina",
    "William",
    "Amara",
    "Benedikt",
    "Clara",
    "Diego",
    "Esther",
    "Felix",
    "Hiroshi",
    "Ivan",
    "Julia",
    "Kwame",
    "Leonie",
    "Mateo",
    "Nadia",
];

pub const SURNAMES: &[&str] = &[
    "Okafor",
    "Halvorsen",
    "Müller",
    "Ødegaard",
    "Nakamura",
    "García",
    "Johansson",
    "Schmidt",
    "Rossi",
    "Kowalski",
    "Adeyemi",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Gonzalez",
    "Hansen",
    "Ivanova",
    "Jensen",
    "Khan",
    "Larsen",
    "Moreau",
    "Nielsen",
    "O'Brien",
    "Petrov",
    "Quinn",
    "Rahman",
    "Silva",
    "Tanaka",
    "Urban",
    "Van der Berg",
    "Weber",
    "Yilmaz",
    "Zhang",
    "Andersson",
    "Bianchi",
    "Castillo",
    "De Vries",
    "Esposito",
    "Fernández",
    "Gallagher",
    "Haddad",
    "Iwasaki",
    "Janssen",
    "Kaur",
    "Lindgren",
    "Mensah",
    "Novak",
    "Olsen",
    "Papadopoulos",
    "Reyes",
    "Sato",
    "Thorsen",
    "Varga",
    "Wójcik",
    "Andersen",
    "Brennan",
    "Costa",
    "Dahl",
    "Lefèvre",
];

/// Financial centres used for datelines; chosen independently of the
/// companies in the story so they carry no signal.
pub const NEWS_DESKS: &[&str] = &[
    "LONDON",
    "FRANKFURT",
    "OSLO",
    "NEW YORK",
    "SINGAPORE",
    "ZÜRICH",
    "HONG KONG",
    "AMSTERDAM",
    "TORONTO",
    "DUBAI",
];

pub const MONTHS: &[&str] = &[
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// A regulator: name, jurisdiction code, and whether it administers sanctions
/// (otherwise it issues enforcement actions).
pub struct RegulatorSpec {
    pub slug: &'static str,
    pub name: &'static str,
    pub jurisdiction: &'static str,
    pub sanctions: bool,
}

pub const REGULATORS: &[RegulatorSpec] = &[
    RegulatorSpec {
        slug: "ofse",
        name: "Office of Financial Sanctions Enforcement",
        jurisdiction: "GB",
        sanctions: true,
    },
    RegulatorSpec {
        slug: "fac",
        name: "Foreign Assets Control Directorate",
        jurisdiction: "US-DE",
        sanctions: true,
    },
    RegulatorSpec {
        slug: "eusc",
        name: "European Sanctions Coordination Board",
        jurisdiction: "LU",
        sanctions: true,
    },
    RegulatorSpec {
        slug: "fsa-de",
        name: "Federal Financial Supervisory Office",
        jurisdiction: "DE",
        sanctions: false,
    },
    RegulatorSpec {
        slug: "smc",
        name: "Securities and Markets Commission",
        jurisdiction: "US-DE",
        sanctions: false,
    },
    RegulatorSpec {
        slug: "fsa-no",
        name: "Norwegian Financial Supervision Authority",
        jurisdiction: "NO",
        sanctions: false,
    },
    RegulatorSpec {
        slug: "mas-sg",
        name: "Monetary and Securities Authority of Singapore",
        jurisdiction: "SG",
        sanctions: false,
    },
];

/// Bank names: a stem or a city goes in front of one of these.
pub const BANK_FORMS: &[&str] = &[
    "Bank",
    "Savings Bank",
    "Merchant Bank",
    "Commercial Bank",
    "Banking Corporation",
];

/// Fund names: a stem goes in front of one of these.
pub const FUND_FORMS: &[&str] = &[
    "Opportunities Fund",
    "Capital Partners Fund",
    "Growth Fund",
    "Special Situations Fund",
    "Frontier Equity Fund",
    "Credit Fund",
];

/// Headline and lead sentence of a story about misconduct.
pub const ADVERSE_STORIES: &[(&str, &str)] = &[
    ("Regulators investigate {C} over accounting irregularities", "{C} is under investigation by financial regulators over suspected accounting irregularities, people familiar with the matter said."),
    ("Prosecutors widen money-laundering probe into {C}", "Prosecutors have widened a money-laundering probe into {C}, examining payments routed through shell companies."),
    ("Auditor quits {C} over related-party concerns", "The auditor of {C} resigned after raising concerns about undisclosed related-party transactions."),
    ("Police raid {C} in bribery inquiry", "Police raided the offices of {C} as part of an inquiry into alleged bribery of public officials."),
    ("Whistle-blower accuses {C} of inflating revenue", "A whistle-blower complaint accuses {C} of falsifying invoices to inflate its reported revenue."),
    ("{C} accused of helping clients evade sanctions", "{C} was accused of helping clients evade sanctions by moving cargo through a chain of intermediaries."),
    ("{C} concealed losses from creditors, investigators say", "Investigators are examining whether {C} concealed losses from its creditors ahead of a bond issue."),
    ("Tax authorities allege {C} hid income offshore", "Tax authorities allege that {C} used a web of offshore entities to hide income and evade taxes."),
    ("Fraud charges loom for executives at {C}", "Executives at {C} could face fraud charges over misleading statements made to investors, according to court documents."),
    ("{C} linked to suspicious transfers in leaked files", "Leaked bank records link {C} to a series of suspicious transfers flagged by compliance officers."),
];

/// Follow-up sentences of a misconduct story (never name a company).
pub const ADVERSE_DETAILS: &[&str] = &[
    "According to the filing, investigators are examining transfers worth {AMOUNT} made over several years.",
    "Several former employees told investigators that internal controls were routinely bypassed.",
    "The probe follows earlier reports of fictitious customers and backdated contracts.",
    "Compliance staff had flagged the payments months earlier, but the warnings were ignored.",
    "Documents seen by reporters show funds moving through accounts in several countries before being withdrawn in cash.",
    "Lawyers for the company declined to comment on the allegations.",
];

/// Headline and lead sentence of an ordinary or good-news story.
pub const NEUTRAL_STORIES: &[(&str, &str)] = &[
    (
        "{C} posts record quarterly revenue",
        "{C} reported record quarterly revenue of {AMOUNT}, beating analyst expectations.",
    ),
    (
        "{C} completes acquisition of regional rival",
        "{C} completed the acquisition of a smaller regional rival for {AMOUNT}.",
    ),
    (
        "{C} wins {AMOUNT} contract",
        "{C} has secured a {AMOUNT} contract that will expand its operations in {CITY}.",
    ),
    (
        "{C} to open new office in {CITY}",
        "{C} announced plans to open a new regional office in {CITY} next year.",
    ),
    (
        "{C} raises full-year guidance",
        "{C} raised its full-year guidance after strong demand in its core markets.",
    ),
    (
        "{C} names new chief financial officer",
        "{C} appointed a new chief financial officer as part of a planned succession.",
    ),
    (
        "{C} refinances credit facilities",
        "{C} refinanced its existing credit facilities of {AMOUNT} on improved terms.",
    ),
    (
        "{C} launches sustainability programme",
        "{C} launched a programme to cut its carbon emissions by {PCT}% by the end of the decade.",
    ),
];

/// Headline and lead of bad-but-lawful business news: a distractor that reads
/// negative without any suggestion of misconduct.
pub const SETBACK_STORIES: &[(&str, &str)] = &[
    (
        "{C} issues profit warning",
        "{C} issued a profit warning, citing weaker demand and higher input costs.",
    ),
    (
        "{C} swings to quarterly loss",
        "{C} reported a quarterly loss as prices in its main markets softened.",
    ),
    (
        "{C} to cut {N} jobs",
        "{C} will cut around {N} jobs as part of a cost-saving programme.",
    ),
    (
        "{C} shares slide after earnings miss",
        "Shares in {C} fell {PCT}% after the company missed analyst estimates.",
    ),
];

/// Follow-up sentences of an ordinary story (never name a company).
pub const NEUTRAL_DETAILS: &[&str] = &[
    "Revenue grew {PCT}% compared with the same period last year.",
    "The company said the transaction would be financed from existing cash and credit lines.",
    "Management expects margins to remain broadly stable through the rest of the year.",
    "The board proposed an unchanged dividend.",
    "Analysts said the outlook for the sector remained mixed.",
    "The company employs about {N} people across {CITY} and other locations.",
];

/// Quotes attributed to a director of the subject company.
pub const ADVERSE_QUOTES: &[&str] = &[
    "\"We are cooperating fully with the authorities and reject the allegations,\" said {P}, a director of the company.",
    "\"The board has commissioned an independent review,\" said {P}, a director of the company.",
];
pub const NEUTRAL_QUOTES: &[&str] = &[
    "\"We are pleased with the progress across our business,\" said {P}, a director of the company.",
    "\"This gives us a solid base for the coming years,\" said {P}, a director of the company.",
];

/// Closing sentences that name the subject company again.
pub const ADVERSE_CLOSINGS: &[&str] = &[
    "{C} has not been charged with any wrongdoing.",
    "Analysts said the allegations could threaten the access to bank funding that {C} relies on.",
    "{C} said it had appointed an outside law firm to review the matter.",
];
pub const NEUTRAL_CLOSINGS: &[&str] = &[
    "{C} will publish its annual report in {MONTH}.",
    "{C} is scheduled to hold an investor day later this year.",
    "Shares of {C} were little changed in afternoon trading.",
];

/// Sentences that name another company. Shared by all kinds of article, so
/// a company named only here gets no tone from the story.
pub const SECONDARY_SENTENCES: &[&str] = &[
    "Shares of {S}, a competitor, were little changed.",
    "{S} is among the largest customers of the company.",
    "Industry peer {S} reports its own results next week.",
    "The company has previously worked with {S} on several projects.",
    "{S} did not respond to a request for comment.",
];
