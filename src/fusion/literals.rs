//! Typed literal columns: every number, date and boolean a node carries,
//! turned into a fixed-width vector (as tabular deep-learning libraries
//! encode columns). The encoders are fitted on the training store and saved
//! in the model's vocabulary, so `predict` transforms new entities the same
//! way. Strings stay categorical features or texts (`data`).
//!
//! Per column (one per predicate):
//! - number: `(x − median) / IQR` clipped to ±[`CLIP`], a one-hot quantile
//!   bin (so a linear layer can draw a threshold, as a tree does), and a
//!   missing indicator;
//! - date or date-time: the age in years before the reference date (the
//!   latest date of the column in the training store, not today: same input,
//!   same model) scaled and binned as a number, the month on a circle
//!   (sin, cos), and a missing indicator;
//! - boolean: the value and a missing indicator.
//!
//! A node with several values of one predicate gets their mean.

use std::collections::BTreeMap;

use oxigraph::model::Literal;
use serde::{Deserialize, Serialize};

use crate::graph::GraphView;

/// Scaled values beyond this many IQRs are clipped (outliers and typos must
/// not dominate a layer's input).
const CLIP: f64 = 5.0;
/// Quantile bins per number column.
const BINS: usize = 8;
/// A column must have values on this many nodes of the training store.
const MIN_NODES: usize = 2;
/// Columns beyond this many (the most frequent predicates are kept) are left out.
const MAX_COLUMNS: usize = 256;

const XSD: &str = "http://www.w3.org/2001/XMLSchema#";

/// How one predicate's values are encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ColumnKind {
    Number(Scaling),
    /// `reference` is a day number (days since 1970-01-01); ages are scaled.
    Date {
        reference: f64,
        age: Scaling,
    },
    Boolean,
}

/// Robust scaling and the quantile cut points of a number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaling {
    pub median: f64,
    /// The interquartile range (or a fallback spread when it is zero).
    pub scale: f64,
    /// Ascending inner cut points; `cuts.len() + 1` bins.
    pub cuts: Vec<f64>,
}

/// One encoded predicate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Column {
    pub predicate: String,
    pub kind: ColumnKind,
}

/// The fitted encoders of every typed literal predicate.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LiteralColumns {
    pub columns: Vec<Column>,
}

/// A literal's value when it is a number, a date or a boolean.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TypedValue {
    Number(f64),
    /// Day number and month (1–12).
    Date(f64, u32),
    Boolean(bool),
}

impl TypedValue {
    /// Reads a literal by its datatype; `None` for strings, other datatypes
    /// and malformed lexical forms.
    pub fn of(literal: &Literal) -> Option<Self> {
        let datatype = literal.datatype().as_str().strip_prefix(XSD)?;
        let value = literal.value().trim();
        match datatype {
            "decimal" | "integer" | "double" | "float" | "long" | "int" | "short" | "byte"
            | "nonNegativeInteger" | "positiveInteger" | "nonPositiveInteger"
            | "negativeInteger" | "unsignedLong" | "unsignedInt" | "unsignedShort"
            | "unsignedByte" => value
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .map(Self::Number),
            "date" | "dateTime" | "dateTimeStamp" => {
                let (day, month) = parse_date(value)?;
                Some(Self::Date(day, month))
            }
            "gYear" => {
                let year: i64 = value.get(..4)?.parse().ok()?;
                Some(Self::Date(day_number(year, 7, 1), 7))
            }
            "gYearMonth" => {
                let (year, month) = (
                    value.get(..4)?.parse().ok()?,
                    value.get(5..7)?.parse().ok()?,
                );
                (1..=12)
                    .contains(&month)
                    .then(|| Self::Date(day_number(year, month, 15), month))
            }
            "boolean" => match value {
                "true" | "1" => Some(Self::Boolean(true)),
                "false" | "0" => Some(Self::Boolean(false)),
                _ => None,
            },
            _ => None,
        }
    }

    fn kind_name(self) -> &'static str {
        match self {
            Self::Number(_) => "number",
            Self::Date(..) => "date",
            Self::Boolean(_) => "boolean",
        }
    }
}

/// `YYYY-MM-DD…` → (day number, month).
fn parse_date(value: &str) -> Option<(f64, u32)> {
    let (negative, value) = match value.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, value),
    };
    let mut parts = value.splitn(3, '-');
    let year: i64 = parts.next()?.parse().ok()?;
    let month: u32 = parts.next()?.parse().ok()?;
    let day: u32 = parts.next()?.get(..2)?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
        return None;
    }
    let year = if negative { -year } else { year };
    Some((day_number(year, month, day), month))
}

/// Days since 1970-01-01 in the proleptic Gregorian calendar.
fn day_number(year: i64, month: u32, day: u32) -> f64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let m = i64::from(month);
    let day_of_year = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    (era * 146_097 + day_of_era - 719_468) as f64
}

impl Scaling {
    fn fit(values: &mut [f64]) -> Self {
        values.sort_by(f64::total_cmp);
        let quantile = |q: f64| {
            let position = q * (values.len() - 1) as f64;
            let (low, high) = (position.floor() as usize, position.ceil() as usize);
            values[low] + (values[high] - values[low]) * (position - low as f64)
        };
        let median = quantile(0.5);
        let iqr = quantile(0.75) - quantile(0.25);
        let spread = values[values.len() - 1] - values[0];
        let scale = [iqr, spread / 4.0, 1.0]
            .into_iter()
            .find(|s| *s > 1e-12)
            .unwrap_or(1.0);
        let mut cuts: Vec<f64> = (1..BINS)
            .map(|b| quantile(b as f64 / BINS as f64))
            .collect();
        cuts.dedup();
        Self {
            median,
            scale,
            cuts,
        }
    }

    fn width(&self) -> usize {
        1 + self.cuts.len() + 1
    }

    /// Scaled value and bin one-hot, into `out`.
    fn encode(&self, x: f64, out: &mut [f32]) {
        out[0] = ((x - self.median) / self.scale).clamp(-CLIP, CLIP) as f32;
        let bin = self.cuts.partition_point(|&c| c <= x);
        out[1 + bin] = 1.0;
    }
}

impl Column {
    /// Floats this column takes (the last is the missing indicator).
    pub fn width(&self) -> usize {
        1 + match &self.kind {
            ColumnKind::Number(s) => s.width(),
            ColumnKind::Date { age, .. } => age.width() + 2,
            ColumnKind::Boolean => 1,
        }
    }

    /// The column's values (`values` non-empty) into `out` (zeroed, `width` long).
    fn encode(&self, values: &[TypedValue], out: &mut [f32]) {
        let mean = |f: &dyn Fn(&TypedValue) -> Option<f64>| {
            let xs: Vec<f64> = values.iter().filter_map(f).collect();
            (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
        };
        let missing = self.width() - 1;
        match &self.kind {
            ColumnKind::Number(scaling) => match mean(&|v| match v {
                TypedValue::Number(x) => Some(*x),
                _ => None,
            }) {
                Some(x) => scaling.encode(x, out),
                None => out[missing] = 1.0,
            },
            ColumnKind::Date { reference, age } => {
                let dates: Vec<(f64, u32)> = values
                    .iter()
                    .filter_map(|v| match v {
                        TypedValue::Date(d, m) => Some((*d, *m)),
                        _ => None,
                    })
                    .collect();
                if dates.is_empty() {
                    out[missing] = 1.0;
                    return;
                }
                let n = dates.len() as f64;
                let day = dates.iter().map(|d| d.0).sum::<f64>() / n;
                age.encode((reference - day) / 365.25, out);
                let (sin, cos) = dates.iter().fold((0.0, 0.0), |(s, c), &(_, m)| {
                    let angle = std::f64::consts::TAU * f64::from(m - 1) / 12.0;
                    (s + angle.sin() / n, c + angle.cos() / n)
                });
                let at = age.width();
                out[at] = sin as f32;
                out[at + 1] = cos as f32;
            }
            ColumnKind::Boolean => match mean(&|v| match v {
                TypedValue::Boolean(b) => Some(f64::from(u8::from(*b))),
                _ => None,
            }) {
                Some(x) => out[0] = x as f32,
                None => out[missing] = 1.0,
            },
        }
    }

    /// Names of the column's floats, for tables and reports.
    pub fn names(&self) -> Vec<String> {
        let p = &self.predicate;
        let binned = |s: &Scaling, base: &str| {
            let mut names = vec![format!("{p} {base}")];
            names.extend((0..=s.cuts.len()).map(|b| format!("{p} {base} bin {b}")));
            names
        };
        let mut names = match &self.kind {
            ColumnKind::Number(s) => binned(s, "value"),
            ColumnKind::Date { age, .. } => {
                let mut names = binned(age, "age");
                names.push(format!("{p} month sin"));
                names.push(format!("{p} month cos"));
                names
            }
            ColumnKind::Boolean => vec![format!("{p} value")],
        };
        names.push(format!("{p} missing"));
        names
    }
}

impl LiteralColumns {
    /// Fits a column per predicate whose literals are numbers, dates or
    /// booleans (on at least two nodes; a predicate mixing kinds takes its
    /// most common one). `skip(node, literal)` leaves values out (a target's
    /// own label).
    pub fn fit(view: &GraphView, skip: &dyn Fn(u32, &Literal) -> bool) -> Self {
        let mut by_predicate: BTreeMap<&str, (Vec<TypedValue>, usize)> = BTreeMap::new();
        for node in 0..view.node_count() as u32 {
            let mut seen: Vec<&str> = Vec::new();
            for t in view.text(node) {
                if skip(node, &t.literal) {
                    continue;
                }
                if let Some(value) = TypedValue::of(&t.literal) {
                    let entry = by_predicate.entry(t.predicate.as_str()).or_default();
                    entry.0.push(value);
                    if !seen.contains(&t.predicate.as_str()) {
                        seen.push(t.predicate.as_str());
                        entry.1 += 1;
                    }
                }
            }
        }
        let mut frequent: Vec<(&str, Vec<TypedValue>, usize)> = by_predicate
            .into_iter()
            .filter(|(_, (_, nodes))| *nodes >= MIN_NODES)
            .map(|(p, (values, nodes))| (p, values, nodes))
            .collect();
        frequent.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(b.0)));
        frequent.truncate(MAX_COLUMNS);
        frequent.sort_by(|a, b| a.0.cmp(b.0));
        let columns = frequent
            .into_iter()
            .map(|(predicate, values, _)| Column {
                predicate: predicate.to_owned(),
                kind: fit_kind(&values),
            })
            .collect();
        Self { columns }
    }

    /// Floats per node.
    pub fn width(&self) -> usize {
        self.columns.iter().map(Column::width).sum()
    }

    /// Names of the floats, in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().flat_map(Column::names).collect()
    }

    /// Every node's vector, row after row (`node_count × width`).
    pub fn encode_all(&self, view: &GraphView, skip: &dyn Fn(u32, &Literal) -> bool) -> Vec<f32> {
        let width = self.width();
        let mut out = vec![0f32; view.node_count() * width];
        if width == 0 {
            return out;
        }
        let index: BTreeMap<&str, usize> = self
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| (c.predicate.as_str(), i))
            .collect();
        let offsets: Vec<usize> = self
            .columns
            .iter()
            .scan(0, |at, c| {
                let start = *at;
                *at += c.width();
                Some(start)
            })
            .collect();
        let mut values: Vec<Vec<TypedValue>> = vec![Vec::new(); self.columns.len()];
        for node in 0..view.node_count() as u32 {
            values.iter_mut().for_each(Vec::clear);
            for t in view.text(node) {
                if let (Some(&c), Some(value)) =
                    (index.get(t.predicate.as_str()), TypedValue::of(&t.literal))
                {
                    if !skip(node, &t.literal) {
                        values[c].push(value);
                    }
                }
            }
            let row = &mut out[node as usize * width..(node as usize + 1) * width];
            for (c, column) in self.columns.iter().enumerate() {
                let slot = &mut row[offsets[c]..offsets[c] + column.width()];
                if values[c].is_empty() {
                    slot[column.width() - 1] = 1.0;
                } else {
                    column.encode(&values[c], slot);
                }
            }
        }
        out
    }
}

/// The encoder of one predicate's values: the kind most of them have.
fn fit_kind(values: &[TypedValue]) -> ColumnKind {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for v in values {
        *counts.entry(v.kind_name()).or_default() += 1;
    }
    let kind = counts
        .iter()
        .max_by_key(|(name, n)| (**n, std::cmp::Reverse(**name)))
        .map_or("number", |(name, _)| *name);
    match kind {
        "date" => {
            let days: Vec<f64> = values
                .iter()
                .filter_map(|v| match v {
                    TypedValue::Date(d, _) => Some(*d),
                    _ => None,
                })
                .collect();
            let reference = days.iter().copied().fold(f64::MIN, f64::max);
            let mut ages: Vec<f64> = days.iter().map(|d| (reference - d) / 365.25).collect();
            ColumnKind::Date {
                reference,
                age: Scaling::fit(&mut ages),
            }
        }
        "boolean" => ColumnKind::Boolean,
        _ => {
            let mut numbers: Vec<f64> = values
                .iter()
                .filter_map(|v| match v {
                    TypedValue::Number(x) => Some(*x),
                    _ => None,
                })
                .collect();
            ColumnKind::Number(Scaling::fit(&mut numbers))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxigraph::model::NamedNode;

    fn typed(value: &str, datatype: &str) -> Literal {
        Literal::new_typed_literal(value, NamedNode::new(format!("{XSD}{datatype}")).unwrap())
    }

    fn view(turtle: &str) -> GraphView {
        let store = crate::test_support::store_from_turtle(&format!(
            "@prefix ex: <http://example.org/> .\n@prefix xsd: <{XSD}> .\n{turtle}"
        ));
        GraphView::from_store(&store, &Default::default()).unwrap()
    }

    fn row<'a>(view: &GraphView, all: &'a [f32], width: usize, name: &str) -> &'a [f32] {
        let node = view
            .node_id(
                &NamedNode::new(format!("http://example.org/{name}"))
                    .unwrap()
                    .into(),
            )
            .unwrap() as usize;
        &all[node * width..(node + 1) * width]
    }

    #[test]
    fn values_are_read_by_datatype() {
        assert_eq!(
            TypedValue::of(&typed("12.50", "decimal")),
            Some(TypedValue::Number(12.5))
        );
        assert_eq!(
            TypedValue::of(&typed(" 7 ", "integer")),
            Some(TypedValue::Number(7.0))
        );
        assert_eq!(
            TypedValue::of(&typed("1970-01-02", "date")),
            Some(TypedValue::Date(1.0, 1))
        );
        assert_eq!(
            TypedValue::of(&typed("2000-03-01T12:00:00Z", "dateTime")),
            Some(TypedValue::Date(11_017.0, 3))
        );
        assert_eq!(
            TypedValue::of(&typed("true", "boolean")),
            Some(TypedValue::Boolean(true))
        );
        assert_eq!(TypedValue::of(&typed("NaN", "double")), None);
        assert_eq!(TypedValue::of(&typed("2001-13-01", "date")), None);
        assert_eq!(TypedValue::of(&Literal::new_simple_literal("12")), None);
    }

    #[test]
    fn numbers_are_robust_scaled_binned_and_marked_missing() {
        let mut turtle = String::new();
        for (i, amount) in [10, 20, 30, 40, 50, 1_000_000].iter().enumerate() {
            turtle.push_str(&format!("ex:c{i} ex:amount {amount} .\n"));
        }
        turtle.push_str("ex:c9 ex:name \"none\" .\n");
        let view = view(&turtle);
        let columns = LiteralColumns::fit(&view, &|_, _| false);
        assert_eq!(columns.columns.len(), 1);
        let ColumnKind::Number(scaling) = &columns.columns[0].kind else {
            panic!("{:?}", columns.columns[0].kind)
        };
        assert_eq!(scaling.median, 35.0);
        assert_eq!(scaling.scale, 25.0, "IQR of 10..50 and the outlier");
        let width = columns.width();
        assert_eq!(width, columns.names().len());
        let all = columns.encode_all(&view, &|_, _| false);
        let c0 = row(&view, &all, width, "c0");
        assert_eq!(c0[0], -1.0, "(10 − 35) / 25");
        assert_eq!(c0[1], 1.0, "lowest bin");
        assert_eq!(c0[width - 1], 0.0, "not missing");
        let outlier = row(&view, &all, width, "c5");
        assert_eq!(outlier[0], CLIP as f32, "clipped");
        assert_eq!(outlier[width - 2], 1.0, "highest bin");
        let none = row(&view, &all, width, "c9");
        assert_eq!(none[width - 1], 1.0, "missing");
        assert!(none[..width - 1].iter().all(|&x| x == 0.0), "{none:?}");
    }

    #[test]
    fn dates_give_age_before_the_latest_date_and_the_month_on_a_circle() {
        let view = view(
            "ex:a ex:founded \"2000-01-15\"^^xsd:date .\n\
             ex:b ex:founded \"2010-07-15\"^^xsd:date .\n\
             ex:c ex:founded \"2020-01-15\"^^xsd:date .\n",
        );
        let columns = LiteralColumns::fit(&view, &|_, _| false);
        let ColumnKind::Date { reference, age } = &columns.columns[0].kind else {
            panic!("{:?}", columns.columns[0].kind)
        };
        assert_eq!(*reference, day_number(2020, 1, 15));
        let width = columns.width();
        let all = columns.encode_all(&view, &|_, _| false);
        let (a, c) = (row(&view, &all, width, "a"), row(&view, &all, width, "c"));
        assert!(a[0] > 0.0 && c[0] < 0.0, "older is larger: {a:?} {c:?}");
        let month = age.width();
        assert!((a[month] - 0.0).abs() < 1e-6 && (a[month + 1] - 1.0).abs() < 1e-6);
        let b = row(&view, &all, width, "b");
        assert!(
            (b[month + 1] + 1.0).abs() < 1e-6,
            "July is opposite January"
        );
    }

    #[test]
    fn booleans_and_skipped_values() {
        let view = view(
            "ex:a ex:listed true ; ex:score 1 .\n ex:b ex:listed false ; ex:score 2 .\n ex:c ex:score 3 .\n",
        );
        let score = NamedNode::new("http://example.org/score").unwrap();
        let skip = |_: u32, l: &Literal| l.value() == "3";
        let columns = LiteralColumns::fit(&view, &|_, _| false);
        assert_eq!(
            columns
                .columns
                .iter()
                .map(|c| c.predicate.as_str())
                .collect::<Vec<_>>(),
            ["http://example.org/listed", score.as_str()]
        );
        let width = columns.width();
        let all = columns.encode_all(&view, &skip);
        assert_eq!(&row(&view, &all, width, "a")[..2], [1.0, 0.0]);
        assert_eq!(&row(&view, &all, width, "b")[..2], [0.0, 0.0]);
        assert_eq!(&row(&view, &all, width, "c")[..2], [0.0, 1.0], "missing");
        let c = row(&view, &all, width, "c");
        assert_eq!(c[width - 1], 1.0, "the skipped score is missing");
    }

    #[test]
    fn a_predicate_on_one_node_is_no_column() {
        let view = view("ex:a ex:id 1 .\n ex:a ex:other 2 .\n ex:b ex:other 3 .\n");
        let columns = LiteralColumns::fit(&view, &|_, _| false);
        assert_eq!(columns.columns.len(), 1);
        assert_eq!(columns.columns[0].predicate, "http://example.org/other");
    }
}
