//! Synthetic knowledge graphs for development, tests and benchmarks.
