//! LoRA adapters (Hu et al. 2021, "Low-Rank Adaptation of Large Language
//! Models"): a frozen projection `W x + b` learns a low-rank update
//! `(alpha / rank) · B A dropout(x)`, `A` `[rank, in]` random and `B`
//! `[out, rank]` zero at the start, so training starts from the pretrained
//! model exactly. Only `A` and `B` are trained and saved (kilobytes, not a
//! copy of BERT); for inference they are merged into the weight,
//! `W' = W + (alpha / rank) · B A`, and cost nothing. Plain candle ops, so the
//! same code runs on any device.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use candle_core::{Result, Tensor, Var};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// The adapters' hyper-parameters (`rank` 0: none).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LoraConfig {
    pub rank: usize,
    /// The update is scaled by `alpha / rank`.
    pub alpha: f64,
    /// Dropout on each adapter's input, while training only.
    pub dropout: f64,
    /// Seeds `A` and the dropout masks.
    pub seed: u64,
}

impl Default for LoraConfig {
    /// No adapters (what models saved before LoRA existed read as).
    fn default() -> Self {
        Self {
            rank: 0,
            alpha: 16.0,
            dropout: 0.0,
            seed: 0,
        }
    }
}

impl LoraConfig {
    pub fn enabled(&self) -> bool {
        self.rank > 0
    }

    pub fn scale(&self) -> f64 {
        self.alpha / self.rank.max(1) as f64
    }
}

/// What all adapters of one model share: the seeded generator (for `A`
/// and the dropout masks) and whether dropout is on.
#[derive(Debug)]
pub(crate) struct AdapterState {
    config: LoraConfig,
    rng: Mutex<ChaCha8Rng>,
    training: AtomicBool,
}

impl AdapterState {
    pub(crate) fn new(config: LoraConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(config.seed)),
            training: AtomicBool::new(false),
        })
    }

    pub(crate) fn set_training(&self, on: bool) {
        self.training.store(on, Ordering::Relaxed);
    }

    fn uniform(&self, count: usize, bound: f32) -> Vec<f32> {
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (0..count)
            .map(|_| rng.random_range(-bound..bound))
            .collect()
    }

    /// Inverted-dropout mask values (`1 / keep` or 0).
    fn mask(&self, count: usize) -> Vec<f32> {
        let keep = 1.0 - self.config.dropout;
        let mut rng = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (0..count)
            .map(|_| {
                if rng.random_bool(keep) {
                    (1.0 / keep) as f32
                } else {
                    0.0
                }
            })
            .collect()
    }
}

/// One projection's adapter.
#[derive(Debug, Clone)]
pub(crate) struct Adapter {
    pub(crate) a: Var,
    pub(crate) b: Var,
    state: Arc<AdapterState>,
}

impl Adapter {
    /// `A` uniform in ±1/√in (the scale of a default linear layer's
    /// weights), `B` zero, on `weight`'s device.
    pub(crate) fn new(weight: &Tensor, state: Arc<AdapterState>) -> Result<Self> {
        let (output, input) = weight.dims2()?;
        let rank = state.config.rank;
        let bound = 1.0 / (input as f32).sqrt();
        let a = Tensor::from_vec(
            state.uniform(rank * input, bound),
            (rank, input),
            weight.device(),
        )?
        .to_dtype(weight.dtype())?;
        let b = Tensor::zeros((output, rank), weight.dtype(), weight.device())?;
        Ok(Self {
            a: Var::from_tensor(&a)?,
            b: Var::from_tensor(&b)?,
            state,
        })
    }

    /// The update `scale · B A dropout(x)` of rows `x` `[rows, in]`.
    pub(crate) fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let p = self.state.config.dropout;
        let x = if p > 0.0 && self.state.training.load(Ordering::Relaxed) {
            let mask = Tensor::from_vec(self.state.mask(x.elem_count()), x.dims(), x.device())?
                .to_dtype(x.dtype())?;
            x.mul(&mask)?
        } else {
            x.clone()
        };
        x.matmul(&self.a.as_tensor().t()?)?
            .matmul(&self.b.as_tensor().t()?)?
            * self.state.config.scale()
    }

    /// `scale · B A` `[out, in]`: what merging adds to the weight.
    pub(crate) fn delta(&self) -> Result<Tensor> {
        self.b.as_tensor().matmul(self.a.as_tensor())? * self.state.config.scale()
    }
}
