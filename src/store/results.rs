//! Rendering of SPARQL results: a human table, the W3C result formats (JSON,
//! CSV, TSV, XML) for solutions and booleans, and RDF syntaxes for graphs.

use std::io::Write;

use oxigraph::io::{RdfFormat, RdfSerializer};
use oxigraph::model::Term;
use oxigraph::sparql::results::{QueryResultsFormat, QueryResultsSerializer};
use oxigraph::sparql::QueryResults;

use super::terms::{display_term, PREFIXES};
use crate::error::{Error, Result};

/// Output formats of `kgfuse query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResultFormat {
    Table,
    Json,
    Csv,
    Tsv,
    Xml,
    Turtle,
    NTriples,
}

impl ResultFormat {
    pub const NAMES: &'static str = "table, json, csv, tsv, xml, turtle, ntriples";

    pub fn parse(name: &str) -> Result<Self> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "table" => Self::Table,
            "json" => Self::Json,
            "csv" => Self::Csv,
            "tsv" => Self::Tsv,
            "xml" => Self::Xml,
            "turtle" | "ttl" => Self::Turtle,
            "ntriples" | "nt" | "n-triples" => Self::NTriples,
            other => {
                return Err(Error::UnknownFormatName {
                    name: other.to_owned(),
                    known: Self::NAMES,
                })
            }
        })
    }

    /// The name a user types for this format.
    pub fn name(self) -> &'static str {
        match self {
            Self::Table => "table",
            Self::Json => "json",
            Self::Csv => "csv",
            Self::Tsv => "tsv",
            Self::Xml => "xml",
            Self::Turtle => "turtle",
            Self::NTriples => "ntriples",
        }
    }

    fn results_format(self) -> Option<QueryResultsFormat> {
        match self {
            Self::Json => Some(QueryResultsFormat::Json),
            Self::Csv => Some(QueryResultsFormat::Csv),
            Self::Tsv => Some(QueryResultsFormat::Tsv),
            Self::Xml => Some(QueryResultsFormat::Xml),
            _ => None,
        }
    }
}

/// Longest cell shown in a table; longer values are cut with an ellipsis.
const MAX_CELL_CHARS: usize = 80;

/// Writes query results. Without an explicit format, solutions and booleans
/// are a table on a terminal and TSV otherwise; graphs are Turtle.
pub fn write_results(
    results: QueryResults<'static>,
    format: Option<ResultFormat>,
    terminal: bool,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |e: std::io::Error| Error::io("<stdout>", e);
    match results {
        QueryResults::Boolean(value) => match format.unwrap_or(ResultFormat::Table) {
            ResultFormat::Table => writeln!(out, "{value}").map_err(io),
            f => {
                let rf = f
                    .results_format()
                    .ok_or_else(|| not_for("an ASK result", f, TABLE_FORMATS))?;
                QueryResultsSerializer::from_format(rf)
                    .serialize_boolean_to_writer(out, value)
                    .map_err(io)?;
                Ok(())
            }
        },
        QueryResults::Solutions(solutions) => {
            let default = if terminal {
                ResultFormat::Table
            } else {
                ResultFormat::Tsv
            };
            let variables = solutions.variables().to_vec();
            let f = format.unwrap_or(default);
            if f == ResultFormat::Table {
                let mut rows = Vec::new();
                for solution in solutions {
                    let solution = solution.map_err(super::query::evaluation_error)?;
                    rows.push(variables.iter().map(|v| solution.get(v).cloned()).collect());
                }
                let header: Vec<String> = variables.iter().map(|v| v.as_str().to_owned()).collect();
                return write_table(&header, &rows, rows.len(), out).map_err(io);
            }
            let rf = f
                .results_format()
                .ok_or_else(|| not_for("SELECT results", f, TABLE_FORMATS))?;
            let mut serializer = QueryResultsSerializer::from_format(rf)
                .serialize_solutions_to_writer(out, variables)
                .map_err(io)?;
            for solution in solutions {
                let solution = solution.map_err(super::query::evaluation_error)?;
                serializer.serialize(&solution).map_err(io)?;
            }
            serializer.finish().map_err(io)?;
            Ok(())
        }
        QueryResults::Graph(triples) => {
            let syntax = match format.unwrap_or(ResultFormat::Turtle) {
                ResultFormat::Turtle => RdfFormat::Turtle,
                ResultFormat::NTriples => RdfFormat::NTriples,
                ResultFormat::Xml => RdfFormat::RdfXml,
                f => return Err(not_for("CONSTRUCT/DESCRIBE results", f, GRAPH_FORMATS)),
            };
            let mut serializer = with_prefixes(RdfSerializer::from_format(syntax)).for_writer(out);
            for triple in triples {
                let triple = triple.map_err(super::query::evaluation_error)?;
                serializer.serialize_triple(&triple).map_err(io)?;
            }
            serializer.finish().map_err(io)?;
            Ok(())
        }
    }
}

/// The formats for solutions and booleans, and those for graphs.
const TABLE_FORMATS: &str = "table, json, csv, tsv, xml";
const GRAPH_FORMATS: &str = "turtle, ntriples, xml";

fn not_for(what: &str, format: ResultFormat, applicable: &str) -> Error {
    Error::UnsupportedOutput(format!(
        "the format {} does not apply to {what}; use one of {applicable}",
        format.name()
    ))
}

/// Adds the well-known prefixes to a serializer (Turtle and TriG use them).
pub fn with_prefixes(serializer: RdfSerializer) -> RdfSerializer {
    PREFIXES.iter().fold(serializer, |s, (name, iri)| {
        // Constant, valid prefix IRIs.
        s.with_prefix(*name, *iri)
            .expect("well-known prefixes are valid IRIs")
    })
}

/// Writes rows as an aligned text table and a line with the row count;
/// `total` is the number of rows the result had, when only some are shown.
pub fn write_table(
    header: &[String],
    rows: &[Vec<Option<Term>>],
    total: usize,
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            row.iter()
                .map(|t| t.as_ref().map(display_term).map(cut).unwrap_or_default())
                .collect()
        })
        .collect();
    write_text_table(header, &cells, out)?;
    let plural = if total == 1 { "" } else { "s" };
    if total == rows.len() {
        writeln!(out, "{total} row{plural}")
    } else {
        writeln!(out, "first {} of {total} row{plural}", rows.len())
    }
}

/// Writes already formatted cells as an aligned table (no row count).
pub fn write_text_table(
    header: &[String],
    cells: &[Vec<String>],
    out: &mut dyn Write,
) -> std::io::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in cells {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |out: &mut dyn Write, values: &[String]| -> std::io::Result<()> {
        let padded: Vec<String> = values
            .iter()
            .zip(&widths)
            .map(|(v, w)| format!("{v}{}", " ".repeat(w - v.chars().count())))
            .collect();
        writeln!(out, "| {} |", padded.join(" | "))
    };
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    line(out, header)?;
    writeln!(out, "|-{}-|", rule.join("-|-"))?;
    for row in cells {
        line(out, row)?;
    }
    Ok(())
}

fn cut(text: String) -> String {
    let flat = text.replace(['\n', '\t'], " ");
    if flat.chars().count() <= MAX_CELL_CHARS {
        flat
    } else {
        let mut short: String = flat.chars().take(MAX_CELL_CHARS - 1).collect();
        short.push('…');
        short
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::Literal;

    #[test]
    fn table_aligns_and_counts() {
        let header = vec!["name".to_owned(), "n".to_owned()];
        let rows = vec![
            vec![
                Some(Literal::from("Ørsted A/S").into()),
                Some(Literal::from(3).into()),
            ],
            vec![None, Some(Literal::from(12).into())],
        ];
        let mut out = Vec::new();
        write_table(&header, &rows, 2, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "| name       | n  |");
        assert_eq!(lines[2], "| Ørsted A/S | 3  |");
        assert_eq!(lines[3], "|            | 12 |");
        assert_eq!(lines[4], "2 rows");
    }
}
