//! Learning tasks on top of the encoders: the shared trainer and metrics,
//! and one module per task.

pub mod baselines;
pub mod checkpoint;
pub mod classify;
pub mod graph_classifier;
pub mod linkpred;
pub mod metrics;
pub mod noisy_or;
pub mod optimizer;
pub mod trainer;
