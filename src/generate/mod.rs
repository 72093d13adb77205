//! Synthetic knowledge graphs for development, tests and benchmarks.

pub mod finance;
mod words;
