//! The one training loop every task uses: AdamW with weight decay, linear
//! warm-up then cosine decay of the learning rate, global gradient-norm
//! clipping, early stopping on a validation metric with patience, and the
//! best weights restored at the end. Everything random is drawn from one
//! seeded generator, so a run on CPU is reproducible; with a checkpoint
//! folder the loop's whole state (weights, optimizer moments, generator,
//! history) is saved after every validation, and a resumed run continues
//! exactly as the uninterrupted one would have.

use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;

use candle_core::{Device, Tensor, Var};
use candle_nn::VarMap;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use super::optimizer::AdamW;
use crate::error::{Error, Result};

/// Every hyper-parameter of the loop.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainerConfig {
    pub epochs: usize,
    pub learning_rate: f64,
    pub weight_decay: f64,
    pub warmup_epochs: usize,
    /// The learning rate decays (cosine) to this fraction of its peak.
    pub min_lr_ratio: f64,
    /// Largest global gradient norm; larger gradients are scaled down.
    pub grad_clip: f64,
    /// Epochs without a better validation metric before stopping.
    pub patience: usize,
    /// Validate every this many epochs.
    pub validate_every: usize,
    pub seed: u64,
}

impl Default for TrainerConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            learning_rate: 0.01,
            weight_decay: 0.0,
            warmup_epochs: 2,
            min_lr_ratio: 0.05,
            grad_clip: 1.0,
            patience: 10,
            validate_every: 1,
            seed: 42,
        }
    }
}

impl TrainerConfig {
    /// Learning rate of an epoch (0-based).
    pub fn learning_rate_at(&self, epoch: usize) -> f64 {
        if epoch < self.warmup_epochs {
            return self.learning_rate * (epoch + 1) as f64 / self.warmup_epochs as f64;
        }
        let span = self.epochs.saturating_sub(self.warmup_epochs).max(1) as f64;
        let progress = ((epoch - self.warmup_epochs) as f64 / span).min(1.0);
        let cosine = 0.5 * (1.0 + (std::f64::consts::PI * progress).cos());
        self.learning_rate * (self.min_lr_ratio + (1.0 - self.min_lr_ratio) * cosine)
    }
}

/// What the loop needs from a task.
pub trait TrainingTask {
    /// Runs one epoch; `step` takes each mini-batch loss, updates the weights
    /// and returns the loss value. Returns the epoch's mean loss.
    fn train_epoch(
        &mut self,
        rng: &mut ChaCha8Rng,
        step: &mut dyn FnMut(&Tensor) -> Result<f64>,
    ) -> Result<f64>;
    /// The validation metric; higher is better unless
    /// [`TrainingTask::lower_is_better`].
    fn validate(&mut self) -> Result<f64>;
    /// Whether a lower metric is the better one (a loss).
    fn lower_is_better(&self) -> bool {
        false
    }
    /// Whether the untrained weights are already a model (one that starts
    /// from a fitted prior): then they are validated as epoch 0 and kept
    /// when no epoch beats them, so training can only add to the prior.
    fn starts_as_a_model(&self) -> bool {
        false
    }
}

/// One epoch in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub loss: f64,
    pub learning_rate: f64,
    /// Present on epochs that validated.
    pub metric: Option<f64>,
    pub seconds: f64,
}

/// The outcome of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainReport {
    /// Epochs trained when the best weights were taken; 0 when no epoch
    /// beat a task that starts as a model.
    pub best_epoch: usize,
    pub best_metric: f64,
    pub stopped_early: bool,
    pub history: Vec<EpochRecord>,
}

/// Overwrites every weight with seeded values: zeros for biases, otherwise
/// Glorot-uniform over the last two dimensions. candle's own initialisers
/// draw from an unseeded generator, so reproducible runs need this.
pub fn seed_weights(varmap: &VarMap, rng: &mut ChaCha8Rng) -> Result<()> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    for name in names {
        let var = &data[name];
        let dims = var.dims().to_vec();
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if name.ends_with("bias") || dims.len() < 2 {
            vec![0.0; count]
        } else {
            let (fan_in, fan_out) = (dims[dims.len() - 2], dims[dims.len() - 1]);
            let bound = (6.0 / (fan_in + fan_out) as f64).sqrt() as f32;
            (0..count)
                .map(|_| rng.random_range(-bound..bound))
                .collect()
        };
        let tensor = Tensor::from_vec(values, dims.as_slice(), var.device())?;
        var.set(&tensor)?;
    }
    Ok(())
}

/// Sets the named weights of `varmap` to zero (an output layer that
/// starts a network at what it adds to, say).
pub fn zero_weights(varmap: &VarMap, names: &[String]) -> Result<()> {
    let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
    for name in names {
        let var = data
            .get(name)
            .ok_or_else(|| Error::Training(format!("the model has no weights named {name}")))?;
        var.set(&var.as_tensor().zeros_like()?)?;
    }
    Ok(())
}

/// Inverted dropout with a seeded mask (identity when `p` is 0).
pub fn dropout(x: &Tensor, p: f64, rng: &mut ChaCha8Rng) -> Result<Tensor> {
    if p <= 0.0 {
        return Ok(x.clone());
    }
    let keep = 1.0 - p;
    let mask: Vec<f32> = (0..x.elem_count())
        .map(|_| {
            if rng.random_bool(keep) {
                (1.0 / keep) as f32
            } else {
                0.0
            }
        })
        .collect();
    let mask = Tensor::from_vec(mask, x.dims(), x.device())?;
    x.mul(&mask).map_err(Error::from)
}

/// Mean binary cross-entropy on logits, in the stable form
/// `max(z, 0) - z·y + log(1 + e^(-|z|))` (candle's version takes the log of
/// a sigmoid, which is NaN once a logit saturates).
pub fn bce_with_logits(logits: &Tensor, targets: &Tensor) -> candle_core::Result<Tensor> {
    let softplus_tail = logits.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
    (logits.relu()? - logits.mul(targets)?)?
        .add(&softplus_tail)?
        .mean_all()
}

/// Weights trained at their own learning rate: `lr_scale` times the
/// schedule's (e.g. a pretrained BERT's top layers at a tenth of the rest).
/// The order of `vars` must be the same in every run (checkpoints and the
/// gradient-norm sum follow it).
pub struct ParamGroup {
    pub vars: Vec<Var>,
    pub lr_scale: f64,
}

impl ParamGroup {
    /// All of a map's weights, by name, at the schedule's learning rate.
    pub fn all(varmap: &VarMap) -> Vec<Self> {
        let data = varmap.data().lock().unwrap_or_else(|e| e.into_inner());
        let mut names: Vec<&String> = data.keys().collect();
        names.sort();
        vec![Self {
            vars: names.into_iter().map(|n| data[n].clone()).collect(),
            lr_scale: 1.0,
        }]
    }
}

/// Where the loop saves its state, and where a resumed run reads it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Checkpointing<'a> {
    pub resume_from: Option<&'a Path>,
    pub save_to: Option<&'a Path>,
}

const STATE_JSON: &str = "trainer_state.json";
const STATE_TENSORS: &str = "trainer_state.safetensors";

/// The loop's state between two epochs; its tensors (the weights, the best
/// weights so far and each group's moments) go to a safetensors file.
#[derive(Debug, Serialize, Deserialize)]
struct LoopState {
    next_epoch: usize,
    best: Option<(usize, f64)>,
    since_best: usize,
    optimizer_steps: Vec<usize>,
    /// The generator's seed, stream and position (a `u128` as text).
    rng: ([u8; 32], u64, String),
    history: Vec<EpochRecord>,
}

impl LoopState {
    fn save(
        &self,
        dir: &Path,
        vars: &[Var],
        best: Option<&[Tensor]>,
        optimizers: &[AdamW],
    ) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let mut tensors: HashMap<String, Tensor> = HashMap::new();
        for (i, var) in vars.iter().enumerate() {
            tensors.insert(format!("weight.{i}"), var.as_tensor().clone());
        }
        for (i, t) in best.unwrap_or_default().iter().enumerate() {
            tensors.insert(format!("best.{i}"), t.clone());
        }
        for (g, optimizer) in optimizers.iter().enumerate() {
            tensors.extend(optimizer.state(&format!("group{g}")));
        }
        let path = dir.join(STATE_TENSORS);
        candle_core::safetensors::save(&tensors, &path)
            .map_err(|e| Error::model_folder(&path, e.to_string()))?;
        super::checkpoint::write_json(&dir.join(STATE_JSON), self)
    }

    /// The state saved in `dir`, its tensors on `device` (the model's).
    fn load(dir: &Path, device: &Device) -> Result<(Self, HashMap<String, Tensor>)> {
        let path = dir.join(STATE_JSON);
        if !path.is_file() {
            return Err(Error::model_folder(&dir, format!("no {STATE_JSON}; only folders written by a training run with this version can be resumed"
            )));
        }
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let state: Self =
            serde_json::from_str(&text).map_err(|e| Error::model_folder(&path, e.to_string()))?;
        let tensors_path = dir.join(STATE_TENSORS);
        let tensors = candle_core::safetensors::load(&tensors_path, device)
            .map_err(|e| Error::model_folder(&tensors_path, e.to_string()))?;
        Ok((state, tensors))
    }

    /// Restores the weights, optimizer moments and generator saved in `dir`,
    /// and returns where the loop stands.
    fn resume(
        dir: &Path,
        vars: &[Var],
        optimizers: &mut [AdamW],
        rng: &mut ChaCha8Rng,
    ) -> Result<Resumed> {
        let device = vars.first().map_or(Device::Cpu, |v| v.device().clone());
        let (state, tensors) = LoopState::load(dir, &device)?;
        let get = |name: &str| -> candle_core::Result<Tensor> {
            tensors.get(name).cloned().ok_or_else(|| {
                candle_core::Error::Msg(format!(
                    "{}: no tensor {name}",
                    dir.join(STATE_TENSORS).display()
                ))
            })
        };
        let restore = || -> candle_core::Result<Option<Vec<Tensor>>> {
            for (i, var) in vars.iter().enumerate() {
                var.set(&get(&format!("weight.{i}"))?)?;
            }
            if state.best.is_none() {
                return Ok(None);
            }
            (0..vars.len())
                .map(|i| get(&format!("best.{i}")))
                .collect::<candle_core::Result<Vec<_>>>()
                .map(Some)
        };
        let best_weights = restore().map_err(|e| {
            Error::model_folder(
                dir,
                format!("cannot resume from it: {e} (another model or other sizes?)"),
            )
        })?;
        if optimizers.len() != state.optimizer_steps.len() {
            return Err(Error::model_folder(
                dir,
                format!(
                    "cannot resume from it: it trained {} weight groups, this run has {}",
                    state.optimizer_steps.len(),
                    optimizers.len()
                ),
            ));
        }
        for (g, optimizer) in optimizers.iter_mut().enumerate() {
            optimizer.restore(state.optimizer_steps[g], &format!("group{g}"), &get)?;
        }
        let (seed, stream, position) = state.rng;
        *rng = <ChaCha8Rng as rand::SeedableRng>::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(position.parse().map_err(|_| {
            Error::model_folder(
                &dir.join(STATE_JSON),
                format!("bad generator position {position}"),
            )
        })?);
        Ok(Resumed {
            best: state.best.zip(best_weights).map(|((e, m), w)| (e, m, w)),
            history: state.history,
            since_best: state.since_best,
            next_epoch: state.next_epoch,
        })
    }
}

/// Where a loop stands: its best (epochs trained, metric, weights) so far,
/// its history, the epochs since the best, and the next epoch.
#[derive(Default)]
struct Resumed {
    best: Option<(usize, f64, Vec<Tensor>)>,
    history: Vec<EpochRecord>,
    since_best: usize,
    next_epoch: usize,
}

/// Trains the groups' weights (a subset of a model's, or all of them) on
/// `task`; calls `on_epoch` after each epoch (for progress bars and
/// checkpoints, with `true` when the epoch set a new best).
pub fn train(
    task: &mut dyn TrainingTask,
    groups: Vec<ParamGroup>,
    config: &TrainerConfig,
    rng: &mut ChaCha8Rng,
    checkpointing: Checkpointing,
    on_epoch: &mut dyn FnMut(&EpochRecord, bool) -> Result<()>,
) -> Result<TrainReport> {
    let (groups, vars, mut optimizers) = optimizers(groups, config)?;
    let Resumed {
        mut best,
        mut history,
        mut since_best,
        next_epoch: first_epoch,
    } = match checkpointing.resume_from {
        Some(dir) => LoopState::resume(dir, &vars, &mut optimizers, rng)?,
        None => Resumed::default(),
    };
    if first_epoch == 0 && best.is_none() && task.starts_as_a_model() {
        let metric = task.validate()?;
        if metric.is_finite() {
            best = Some((0, metric, snapshot(&vars)?));
        }
    }
    let lower_is_better = task.lower_is_better();
    let mut stopped_early = since_best >= config.patience && first_epoch > 0;
    for epoch in first_epoch..config.epochs {
        if stopped_early {
            break;
        }
        let start = Instant::now();
        let (loss, learning_rate) =
            run_epoch(task, &mut optimizers, &groups, &vars, config, epoch, rng)?;
        let validate =
            (epoch + 1) % config.validate_every.max(1) == 0 || epoch + 1 == config.epochs;
        let metric = if validate {
            Some(task.validate()?)
        } else {
            None
        };
        let improved = match (metric, &best) {
            (Some(m), None) => m.is_finite(),
            (Some(m), Some((_, b, _))) if lower_is_better => m < *b,
            (Some(m), Some((_, b, _))) => m > *b,
            (None, _) => false,
        };
        if improved {
            best = Some((epoch + 1, metric.unwrap_or(f64::NAN), snapshot(&vars)?));
            since_best = 0;
        } else if validate {
            since_best += config.validate_every.max(1);
        }
        let record = EpochRecord {
            epoch: epoch + 1,
            loss,
            learning_rate,
            metric,
            seconds: start.elapsed().as_secs_f64(),
        };
        on_epoch(&record, improved)?;
        history.push(record);
        stopped_early = since_best >= config.patience;
        if let (Some(dir), true) = (checkpointing.save_to, validate) {
            let state = LoopState {
                next_epoch: epoch + 1,
                best: best.as_ref().map(|(e, m, _)| (*e, *m)),
                since_best,
                optimizer_steps: optimizers.iter().map(AdamW::steps).collect(),
                rng: (
                    rng.get_seed(),
                    rng.get_stream(),
                    rng.get_word_pos().to_string(),
                ),
                history: history.clone(),
            };
            state.save(
                dir,
                &vars,
                best.as_ref().map(|b| b.2.as_slice()),
                &optimizers,
            )?;
        }
    }
    let (best_epoch, best_metric, snapshot) =
        best.ok_or_else(|| Error::Training("no epoch produced a finite validation metric".into()))?;
    restore(&vars, &snapshot)?;
    Ok(TrainReport {
        best_epoch,
        best_metric,
        stopped_early,
        history,
    })
}

/// Trains the first `epochs` epochs of `config`'s schedule (which still
/// spans `config.epochs`), with no validation and no choice: a refit that
/// repeats a chosen run on other entities, to see how that run generalises.
pub fn train_epochs(
    task: &mut dyn TrainingTask,
    groups: Vec<ParamGroup>,
    config: &TrainerConfig,
    rng: &mut ChaCha8Rng,
    epochs: usize,
) -> Result<()> {
    let (groups, vars, mut optimizers) = optimizers(groups, config)?;
    for epoch in 0..epochs.min(config.epochs) {
        run_epoch(task, &mut optimizers, &groups, &vars, config, epoch, rng)?;
    }
    Ok(())
}

/// The groups that hold weights, all their weights, and an optimizer per group.
fn optimizers(
    groups: Vec<ParamGroup>,
    config: &TrainerConfig,
) -> Result<(Vec<ParamGroup>, Vec<Var>, Vec<AdamW>)> {
    let groups: Vec<ParamGroup> = groups.into_iter().filter(|g| !g.vars.is_empty()).collect();
    let vars: Vec<Var> = groups.iter().flat_map(|g| g.vars.clone()).collect();
    let optimizers = groups
        .iter()
        .map(|g| {
            AdamW::new(
                g.vars.clone(),
                config.learning_rate_at(0) * g.lr_scale,
                config.weight_decay,
            )
        })
        .collect::<candle_core::Result<Vec<_>>>()?;
    Ok((groups, vars, optimizers))
}

/// One epoch of the schedule: each group at its share of the epoch's
/// learning rate, gradients clipped together. Returns the mean loss and the
/// learning rate.
fn run_epoch(
    task: &mut dyn TrainingTask,
    optimizers: &mut [AdamW],
    groups: &[ParamGroup],
    vars: &[Var],
    config: &TrainerConfig,
    epoch: usize,
    rng: &mut ChaCha8Rng,
) -> Result<(f64, f64)> {
    let learning_rate = config.learning_rate_at(epoch);
    for (optimizer, group) in optimizers.iter_mut().zip(groups) {
        optimizer.learning_rate = learning_rate * group.lr_scale;
    }
    let mut step = |loss: &Tensor| -> Result<f64> {
        let mut grads = loss.backward()?;
        clip_gradients(&mut grads, vars, config.grad_clip)?;
        for optimizer in optimizers.iter_mut() {
            optimizer.step(&grads)?;
        }
        Ok(f64::from(loss.to_scalar::<f32>()?))
    };
    let loss = task.train_epoch(rng, &mut step)?;
    if !loss.is_finite() {
        return Err(Error::Training(format!(
            "training diverged at epoch {}: loss {loss}",
            epoch + 1
        )));
    }
    Ok((loss, learning_rate))
}

/// A copy of the weights' current values, for [`restore`].
pub fn snapshot(vars: &[Var]) -> Result<Vec<Tensor>> {
    Ok(vars
        .iter()
        .map(|v| v.as_tensor().copy())
        .collect::<candle_core::Result<Vec<_>>>()?)
}

/// Puts back the values a [`snapshot`] of the same `vars` took.
pub fn restore(vars: &[Var], snapshot: &[Tensor]) -> Result<()> {
    for (var, tensor) in vars.iter().zip(snapshot) {
        var.set(tensor)?;
    }
    Ok(())
}

/// Scales all gradients together so that their global L2 norm is at most `max`.
fn clip_gradients(
    grads: &mut candle_core::backprop::GradStore,
    vars: &[Var],
    max: f64,
) -> Result<()> {
    if max <= 0.0 {
        return Ok(());
    }
    let mut total = 0f64;
    for var in vars {
        if let Some(g) = grads.get(var.as_tensor()) {
            total += f64::from(
                g.sqr()
                    .and_then(|s| s.sum_all())
                    .and_then(|s| s.to_scalar::<f32>())?,
            );
        }
    }
    let norm = total.sqrt();
    if norm > max {
        let scale = max / norm;
        for var in vars {
            if let Some(g) = grads.get(var.as_tensor()) {
                let scaled = (g * scale)?;
                grads.insert(var.as_tensor(), scaled);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn bce_is_stable_for_saturated_logits() {
        let logits = Tensor::new(&[200f32, -200., 0.], &candle_core::Device::Cpu).unwrap();
        let targets = Tensor::new(&[1f32, 1., 0.5], &candle_core::Device::Cpu).unwrap();
        let loss = bce_with_logits(&logits, &targets)
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        // Terms: 0, 200, ln 2.
        assert!(
            (loss - (200.0 + std::f32::consts::LN_2) / 3.0).abs() < 1e-3,
            "{loss}"
        );
    }

    #[test]
    fn warmup_then_cosine_decay() {
        let config = TrainerConfig {
            epochs: 12,
            learning_rate: 1.0,
            warmup_epochs: 2,
            min_lr_ratio: 0.1,
            ..TrainerConfig::default()
        };
        assert_eq!(config.learning_rate_at(0), 0.5);
        assert_eq!(config.learning_rate_at(1), 1.0);
        assert_eq!(config.learning_rate_at(2), 1.0);
        assert!((config.learning_rate_at(12) - 0.1).abs() < 1e-12);
        assert!(config.learning_rate_at(7) < 1.0 && config.learning_rate_at(7) > 0.1);
    }

    /// Training pulls one weight from 0 towards 1; validation prefers 0
    /// (as minus its square, or as its square, a loss, with `as_loss`).
    struct DriftingTask {
        weight: Var,
        starts_as_a_model: bool,
        as_loss: bool,
    }

    impl TrainingTask for DriftingTask {
        fn train_epoch(
            &mut self,
            _rng: &mut ChaCha8Rng,
            step: &mut dyn FnMut(&Tensor) -> Result<f64>,
        ) -> Result<f64> {
            let loss = (self.weight.as_tensor() - 1.0)?.sqr()?.sum_all()?;
            step(&loss)
        }
        fn validate(&mut self) -> Result<f64> {
            let w = self.weight.as_tensor().sum_all()?.to_scalar::<f32>()?;
            let square = f64::from(w * w);
            Ok(if self.as_loss { square } else { -square })
        }
        fn lower_is_better(&self) -> bool {
            self.as_loss
        }
        fn starts_as_a_model(&self) -> bool {
            self.starts_as_a_model
        }
    }

    #[test]
    fn a_task_that_starts_as_a_model_keeps_its_untrained_weights_when_no_epoch_beats_them() {
        let config = TrainerConfig {
            epochs: 5,
            learning_rate: 0.1,
            warmup_epochs: 0,
            patience: 2,
            ..TrainerConfig::default()
        };
        for (starts_as_a_model, as_loss) in
            [(true, false), (false, false), (true, true), (false, true)]
        {
            let weight = Var::zeros(1, DType::F32, &candle_core::Device::Cpu).unwrap();
            let mut task = DriftingTask {
                weight: weight.clone(),
                starts_as_a_model,
                as_loss,
            };
            let groups = vec![ParamGroup {
                vars: vec![weight.clone()],
                lr_scale: 1.0,
            }];
            let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
            let report = train(
                &mut task,
                groups,
                &config,
                &mut rng,
                Checkpointing::default(),
                &mut |_, _| Ok(()),
            )
            .unwrap();
            let w = weight
                .as_tensor()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            if starts_as_a_model {
                assert_eq!((report.best_epoch, w), (0, 0.0));
                assert_eq!(report.best_metric, 0.0);
            } else {
                assert_eq!(report.best_epoch, 1);
                assert!(w > 0.0, "{w}");
            }
            assert!(report.stopped_early);
        }
    }

    #[test]
    fn a_refit_trains_the_first_epochs_of_the_whole_schedule_without_choosing() {
        let refit = |schedule: usize, epochs: usize| {
            let config = TrainerConfig {
                epochs: schedule,
                learning_rate: 0.1,
                warmup_epochs: 0,
                ..TrainerConfig::default()
            };
            let weight = Var::zeros(1, DType::F32, &candle_core::Device::Cpu).unwrap();
            // Validation prefers the untrained weight; a refit never looks.
            let mut task = DriftingTask {
                weight: weight.clone(),
                starts_as_a_model: true,
                as_loss: true,
            };
            let groups = vec![ParamGroup {
                vars: vec![weight.clone()],
                lr_scale: 1.0,
            }];
            let mut rng = <ChaCha8Rng as rand::SeedableRng>::seed_from_u64(0);
            train_epochs(&mut task, groups, &config, &mut rng, epochs).unwrap();
            let w = weight.as_tensor().sum_all().unwrap();
            w.to_scalar::<f32>().unwrap()
        };
        assert!(refit(10, 2) > 0.0);
        assert!(refit(10, 3) > refit(10, 2));
        // Three epochs of a ten-epoch schedule decay less than a whole
        // three-epoch schedule does.
        assert_ne!(refit(10, 3), refit(3, 3));
        assert_eq!(refit(5, 9), refit(5, 5));
    }
}
