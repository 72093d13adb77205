//! Checks on SPARQL text before and after the parser sees it: a nesting
//! limit (the recursive-descent parser and evaluator would otherwise
//! overflow the stack on deeply nested input and abort the process), and
//! one-line messages that name the actual mistake (an undeclared prefix, a
//! query given where an update is expected) instead of the parser's list of
//! expected tokens.

use super::terms::PREFIXES;

/// Deepest nesting of `{ }`, `( )` and `[ ]` accepted. Hand-written and
/// generated queries stay far below it; the parser's stack use per level is
/// what bounds it (it must parse on a 2 MiB thread stack).
pub const MAX_NESTING: usize = 128;

/// What the text was given as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SparqlKind {
    Query,
    Update,
}

/// A lexical token that matters to the checks, with its 1-based position.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Open,
    Close,
    /// `prefix:local` or `prefix:`, as written (prefix may be empty).
    PrefixedName(String),
    Word(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Located {
    token: Token,
    line: usize,
    column: usize,
    /// The token's first character, counted in characters from the start.
    offset: usize,
    /// The character right after the token.
    next: Option<char>,
}

/// Splits SPARQL into the tokens above, skipping strings, IRIs, comments,
/// variables and blank-node labels.
fn tokens(text: &str) -> Vec<Located> {
    let chars: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line, mut column) = (0, 1, 1);
    // Advances over `n` characters, keeping the position.
    let advance = |i: &mut usize, line: &mut usize, column: &mut usize, n: usize| {
        for _ in 0..n {
            if chars.get(*i) == Some(&'\n') {
                *line += 1;
                *column = 1;
            } else {
                *column += 1;
            }
            *i += 1;
        }
    };
    let is_name = |c: char| c.is_alphanumeric() || matches!(c, '_' | '-' | '.');
    while i < chars.len() {
        let c = chars[i];
        let (at_line, at_column) = (line, column);
        let len = match c {
            '#' => chars[i..].iter().take_while(|&&c| c != '\n').count(),
            '"' | '\'' => string_length(&chars[i..]),
            '<' => iri_length(&chars[i..]).unwrap_or(1),
            '?' | '$' => 1 + chars[i + 1..].iter().take_while(|&&c| is_name(c)).count(),
            '_' if chars.get(i + 1) == Some(&':') => {
                2 + chars[i + 2..].iter().take_while(|&&c| is_name(c)).count()
            }
            '{' | '(' | '[' => {
                out.push(Located {
                    token: Token::Open,
                    line,
                    column,
                    offset: i,
                    next: None,
                });
                1
            }
            '}' | ')' | ']' => {
                out.push(Located {
                    token: Token::Close,
                    line,
                    column,
                    offset: i,
                    next: None,
                });
                1
            }
            c if c.is_alphabetic() || c == ':' => {
                let word: String = chars[i..].iter().take_while(|&&c| is_name(c)).collect();
                let colon = i + word.chars().count();
                let token = if chars.get(colon) == Some(&':') {
                    let local: String = chars[colon + 1..]
                        .iter()
                        .take_while(|&&c| is_name(c) || matches!(c, ':' | '%' | '\\'))
                        .collect();
                    Token::PrefixedName(format!("{word}:{}", local.trim_end_matches('.')))
                } else {
                    Token::Word(word.trim_end_matches('.').to_owned())
                };
                let length = match &token {
                    Token::PrefixedName(name) | Token::Word(name) => name.chars().count(),
                    Token::Open | Token::Close => 1,
                };
                out.push(Located {
                    token,
                    line: at_line,
                    column: at_column,
                    offset: i,
                    next: chars.get(i + length).copied(),
                });
                length
            }
            _ => 1,
        };
        advance(&mut i, &mut line, &mut column, len.max(1));
    }
    out
}

/// Length of a string literal (short or long form) starting at `chars[0]`.
fn string_length(chars: &[char]) -> usize {
    let quote = chars[0];
    let long = chars.len() >= 3 && chars[1] == quote && chars[2] == quote;
    let (open, mut i) = if long { (3, 3) } else { (1, 1) };
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            c if c == quote && !long => return i + 1,
            c if c == quote && chars[i..].iter().take(3).all(|&c| c == quote) => return i + 3,
            '\n' if !long => return i,
            _ => i += 1,
        }
    }
    chars.len().max(open)
}

/// Length of an IRI reference `<…>` at `chars[0]`, or `None` when the `<`
/// is the less-than operator (IRIs hold no spaces, quotes or braces).
fn iri_length(chars: &[char]) -> Option<usize> {
    for (i, &c) in chars.iter().enumerate().skip(1) {
        match c {
            '>' => return Some(i + 1),
            c if c.is_whitespace() || matches!(c, '<' | '"' | '{' | '}' | '|' | '^' | '`') => {
                return None
            }
            _ => {}
        }
    }
    None
}

/// The byte offset just inside the `{` that opens a query's WHERE clause
/// (the keyword may be left out), where a VALUES block binds variables for
/// the whole pattern.
pub fn where_clause_start(text: &str) -> Option<usize> {
    let tokens = tokens(text);
    let after_where = tokens
        .iter()
        .position(|t| matches!(&t.token, Token::Word(w) if w.eq_ignore_ascii_case("where")))
        .map_or(0, |i| i + 1);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    tokens[after_where..]
        .iter()
        .filter(|t| t.token == Token::Open)
        .map(|t| chars[t.offset])
        .find(|(_, c)| *c == '{')
        .map(|(byte, _)| byte + 1)
}

/// The byte offset of a query's ORDER BY clause when it is the last thing
/// in the text (no LIMIT, OFFSET or VALUES after it), so that it can be cut
/// off and the order applied by the caller.
pub fn trailing_order_by(text: &str) -> Option<usize> {
    let tokens = tokens(text);
    let mut depth = 0usize;
    let mut order = None;
    for (i, located) in tokens.iter().enumerate() {
        match &located.token {
            Token::Open => depth += 1,
            Token::Close => depth = depth.saturating_sub(1),
            Token::Word(word) if depth == 0 => {
                let next_is_by = matches!(
                    tokens.get(i + 1).map(|t| &t.token),
                    Some(Token::Word(by)) if by.eq_ignore_ascii_case("by")
                );
                if word.eq_ignore_ascii_case("order") && next_is_by {
                    order = Some(located.offset);
                } else if ["limit", "offset", "values"]
                    .iter()
                    .any(|k| word.eq_ignore_ascii_case(k))
                {
                    order = None;
                }
            }
            Token::Word(_) | Token::PrefixedName(_) => {}
        }
    }
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    order.map(|offset| chars[offset].0)
}

/// Refuses text nested deeper than [`MAX_NESTING`], naming where.
pub fn check_nesting(text: &str) -> Result<(), String> {
    let mut depth = 0usize;
    for located in tokens(text) {
        match located.token {
            Token::Open => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Err(format!(
                        "{}:{}: groups, brackets and parentheses nest more than {MAX_NESTING} levels deep; flatten the query",
                        located.line, located.column
                    ));
                }
            }
            Token::Close => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    Ok(())
}

const QUERY_FORMS: [&str; 4] = ["SELECT", "ASK", "CONSTRUCT", "DESCRIBE"];
const UPDATE_FORMS: [&str; 11] = [
    "INSERT", "DELETE", "LOAD", "CLEAR", "CREATE", "DROP", "COPY", "MOVE", "ADD", "WITH", "DATA",
];

/// Rewrites a parser error on `text` as one line that names the mistake.
pub fn explain_syntax_error(text: &str, kind: SparqlKind, parser_message: &str) -> String {
    let tokens = tokens(text);
    if let Some(message) = wrong_kind(&tokens, kind) {
        return message;
    }
    if let Some(message) = unknown_prefix(&tokens) {
        return message;
    }
    if let Some(message) = slash_in_prefixed_name(&tokens) {
        return message;
    }
    one_line(parser_message)
}

/// "This is a query" when an update was expected, and the reverse.
fn wrong_kind(tokens: &[Located], kind: SparqlKind) -> Option<String> {
    let first = tokens.iter().find_map(|t| match &t.token {
        Token::Word(w) if !matches!(w.to_uppercase().as_str(), "PREFIX" | "BASE") => {
            Some(w.to_uppercase())
        }
        _ => None,
    })?;
    match kind {
        SparqlKind::Update if QUERY_FORMS.contains(&first.as_str()) => Some(format!(
            "this is a query ({first}), not an update: run it with `kgfuse query`"
        )),
        SparqlKind::Query if UPDATE_FORMS.contains(&first.as_str()) => Some(format!(
            "this is an update ({first}), not a query: run it with `kgfuse update`"
        )),
        _ => None,
    }
}

/// The first prefixed name whose prefix is neither declared in the text nor
/// predeclared, with the closest known prefix as a suggestion.
fn unknown_prefix(tokens: &[Located]) -> Option<String> {
    let mut declared: Vec<String> = PREFIXES.iter().map(|(p, _)| (*p).to_owned()).collect();
    for (declaration, located, prefix) in prefixes(tokens) {
        if declaration {
            declared.push(prefix);
        } else if !declared.contains(&prefix) {
            let Token::PrefixedName(name) = &located.token else {
                unreachable!("prefixes come from prefixed names")
            };
            let suggestion = closest(&declared, &prefix)
                .map(|names| format!("; did you mean {names}?"))
                .unwrap_or_default();
            let predeclared: Vec<&str> = PREFIXES.iter().map(|(p, _)| *p).collect();
            return Some(format!(
                "{}:{}: unknown prefix `{prefix}:` in `{name}`{suggestion} (declare it with `PREFIX {prefix}: <…>`; predeclared: {})",
                located.line,
                located.column,
                predeclared.join(" ")
            ));
        }
    }
    None
}

/// Every prefix the text names, in order: whether it is a declaration
/// (`PREFIX p:`), where, and the prefix.
fn prefixes(tokens: &[Located]) -> Vec<(bool, &Located, String)> {
    let mut after_prefix_keyword = false;
    let mut found = Vec::new();
    for located in tokens {
        match &located.token {
            Token::Word(w) => after_prefix_keyword = w.eq_ignore_ascii_case("PREFIX"),
            Token::PrefixedName(name) => {
                let prefix = name.split(':').next().unwrap_or_default().to_owned();
                found.push((after_prefix_keyword, located, prefix));
                after_prefix_keyword = false;
            }
            _ => after_prefix_keyword = false,
        }
    }
    found
}

/// The well-known prefixes a query uses but does not declare, as a prologue
/// to put before it (the embedded store predeclares them; a server does not).
pub fn undeclared_prefixes(text: &str) -> String {
    let tokens = tokens(text);
    let named = prefixes(&tokens);
    PREFIXES
        .iter()
        .filter(|(name, _)| {
            let used = named.iter().any(|(d, _, p)| !d && p == name);
            let declared = named.iter().any(|(d, _, p)| *d && p == name);
            used && !declared
        })
        .map(|(name, iri)| format!("PREFIX {name}: <{iri}>\n"))
        .collect()
}

/// The known prefixes at the smallest edit distance (at most 2) from
/// `prefix`, as "`a:` or `b:`".
fn closest(known: &[String], prefix: &str) -> Option<String> {
    let distance = |k: &String| strsim::levenshtein(k, prefix);
    let best = known.iter().map(distance).filter(|&d| d <= 2).min()?;
    let mut names: Vec<String> = known
        .iter()
        .filter(|k| distance(k) == best)
        .map(|k| format!("`{k}:`"))
        .collect();
    names.dedup();
    Some(names.join(" or "))
}

/// `data:company/0001`: SPARQL's local names cannot hold a `/` unescaped.
fn slash_in_prefixed_name(tokens: &[Located]) -> Option<String> {
    tokens.iter().find_map(|located| match &located.token {
        Token::PrefixedName(name) if located.next == Some('/') => {
            let (prefix, _) = name.split_once(':')?;
            Some(format!(
                "{}:{}: a prefixed name cannot contain `/` unescaped (`{name}/…`): write `{name}\\/…` or the full IRI, e.g. <{}…>",
                located.line,
                located.column,
                PREFIXES
                    .iter()
                    .find(|(p, _)| *p == prefix)
                    .map_or(String::new(), |(_, iri)| format!("{iri}{}", &name[prefix.len() + 1..]))
            ))
        }
        _ => None,
    })
}

/// The parser's message on one line, with its list of expected tokens cut short.
fn one_line(message: &str) -> String {
    const SHOWN: usize = 6;
    let flat = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let flat = flat.strip_prefix("error at ").unwrap_or(&flat).to_owned();
    let Some((head, expected)) = flat.split_once("expected one of ") else {
        return flat;
    };
    let options: Vec<&str> = expected.split(", ").collect();
    if options.len() <= SHOWN {
        return flat;
    }
    format!(
        "{head}expected one of {} (and {} more)",
        options[..SHOWN].join(", "),
        options.len() - SHOWN
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_where_clause_is_found_past_templates_strings_and_iris() {
        let text = "CONSTRUCT { ?s <http://x/{a}> \"{\" } WHERE { ?s ?p ?o }";
        let at = where_clause_start(text).unwrap();
        assert_eq!(&text[at..], " ?s ?p ?o }");
        let short = "SELECT * { ?s ?p ?o }";
        assert_eq!(&short[where_clause_start(short).unwrap()..], " ?s ?p ?o }");
        assert!(where_clause_start("SELECT").is_none());
    }

    #[test]
    fn only_undeclared_well_known_prefixes_are_added() {
        let text =
            "PREFIX risk: <http://other/> SELECT * WHERE { ?s a risk:Company ; rdfs:label ?l }";
        let prologue = undeclared_prefixes(text);
        assert!(prologue.contains("PREFIX rdfs:"), "{prologue}");
        assert!(!prologue.contains("PREFIX risk:"), "{prologue}");
        assert!(!prologue.contains("PREFIX owl:"), "{prologue}");
    }

    #[test]
    fn a_trailing_order_by_is_found_only_at_the_end() {
        let text =
            "SELECT ?c WHERE { { SELECT ?c WHERE { ?c ?p ?o } ORDER BY ?c } } ORDER BY DESC(?c)";
        assert_eq!(
            &text[trailing_order_by(text).unwrap()..],
            "ORDER BY DESC(?c)"
        );
        assert!(trailing_order_by("SELECT * { ?s ?p ?o } ORDER BY ?s LIMIT 3").is_none());
        assert!(trailing_order_by("SELECT * { ?s ?p ?o }").is_none());
    }

    #[test]
    fn nesting_is_counted_outside_strings_iris_and_comments() {
        let deep = format!("SELECT * WHERE {}{}", "{".repeat(200), "}".repeat(200));
        let error = check_nesting(&deep).unwrap_err();
        assert!(error.starts_with("1:"), "{error}");
        let braces_in_text = format!(
            "SELECT * WHERE {{ ?s ?p \"{0}\" }} # {0}\n",
            "{(".repeat(500)
        );
        assert_eq!(check_nesting(&braces_in_text), Ok(()));
        assert_eq!(
            check_nesting("SELECT * WHERE { ?s <http://x/(> ?o }"),
            Ok(())
        );
    }

    #[test]
    fn an_undeclared_prefix_is_named_with_a_suggestion() {
        let message = explain_syntax_error(
            "SELECT ?x WHERE {\n  ?x rds:label ?y }",
            SparqlKind::Query,
            "error at 2:6: expected one of …",
        );
        assert!(
            message.starts_with("2:6: unknown prefix `rds:`"),
            "{message}"
        );
        assert!(
            message.contains("did you mean `rdf:` or `rdfs:`?"),
            "{message}"
        );
        let message = explain_syntax_error("SELECT ?x WHERE { ?x ex:p ?y }", SparqlKind::Query, "");
        assert!(message.contains("unknown prefix `ex:`"), "{message}");
        assert!(!message.contains("did you mean"), "{message}");
    }

    #[test]
    fn declared_prefixes_and_colons_in_iris_and_strings_are_not_unknown() {
        let text =
            "PREFIX ex: <http://example.com/> SELECT ?x WHERE { ?x ex:p \"a:b\" . ?x <urn:x> ?y }";
        assert_eq!(unknown_prefix(&tokens(text)), None);
    }

    #[test]
    fn a_query_given_as_update_says_so() {
        let message = explain_syntax_error(
            "PREFIX ex: <http://e/> SELECT * WHERE { ?s ?p ?o }",
            SparqlKind::Update,
            "error at 1:24: expected VERSION",
        );
        assert!(message.contains("`kgfuse query`"), "{message}");
        let message = explain_syntax_error(
            "INSERT DATA { <urn:a> <urn:b> <urn:c> }",
            SparqlKind::Query,
            "",
        );
        assert!(message.contains("`kgfuse update`"), "{message}");
    }

    #[test]
    fn a_slash_in_a_prefixed_name_is_explained() {
        let message = explain_syntax_error(
            "INSERT DATA { data:company/0001 risk:riskLabel risk:HighRisk }",
            SparqlKind::Update,
            "",
        );
        assert!(
            message.starts_with("1:15: a prefixed name cannot contain `/`"),
            "{message}"
        );
        assert!(
            message.contains("<https://w3id.org/kgfuse/data/company…>"),
            "{message}"
        );
    }

    #[test]
    fn long_expectation_lists_are_cut_to_one_line() {
        let message = one_line(
            "error at 1:5: expected one of \"a\", \"b\", \"c\",\n \"d\", \"e\", \"f\", \"g\", \"h\"",
        );
        assert_eq!(
            message,
            "1:5: expected one of \"a\", \"b\", \"c\", \"d\", \"e\", \"f\" (and 2 more)"
        );
    }
}
