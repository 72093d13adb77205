//! AdamW (Loshchilov & Hutter) with its moments in the open, so that a
//! checkpoint can carry them and a resumed run continues exactly where the
//! interrupted one stopped. candle-nn's `AdamW` keeps them private.

use candle_core::backprop::GradStore;
use candle_core::{Result, Tensor, Var};

/// The decoupled-weight-decay Adam update with the usual defaults
/// (β₁ = 0.9, β₂ = 0.999, ε = 1e-8).
pub struct AdamW {
    vars: Vec<Var>,
    first: Vec<Tensor>,
    second: Vec<Tensor>,
    steps: usize,
    pub learning_rate: f64,
    weight_decay: f64,
}

const BETA1: f64 = 0.9;
const BETA2: f64 = 0.999;
const EPSILON: f64 = 1e-8;

impl AdamW {
    pub fn new(vars: Vec<Var>, learning_rate: f64, weight_decay: f64) -> Result<Self> {
        let zeros = |v: &Var| v.as_tensor().zeros_like();
        Ok(Self {
            first: vars.iter().map(zeros).collect::<Result<_>>()?,
            second: vars.iter().map(zeros).collect::<Result<_>>()?,
            vars,
            steps: 0,
            learning_rate,
            weight_decay,
        })
    }

    /// One update of every variable that has a gradient.
    pub fn step(&mut self, grads: &GradStore) -> Result<()> {
        self.steps += 1;
        let correction1 = 1.0 - BETA1.powi(self.steps as i32);
        let correction2 = 1.0 - BETA2.powi(self.steps as i32);
        let decay = 1.0 - self.learning_rate * self.weight_decay;
        for (i, var) in self.vars.iter().enumerate() {
            let Some(g) = grads.get(var.as_tensor()) else {
                continue;
            };
            let m = ((&self.first[i] * BETA1)? + (g * (1.0 - BETA1))?)?;
            let v = ((&self.second[i] * BETA2)? + (g.sqr()? * (1.0 - BETA2))?)?;
            let m_hat = (&m / correction1)?;
            let v_hat = (&v / correction2)?;
            let update = (m_hat / (v_hat.sqrt()? + EPSILON)?)?;
            let next = ((var.as_tensor() * decay)? - (update * self.learning_rate)?)?;
            var.set(&next)?;
            self.first[i] = m;
            self.second[i] = v;
        }
        Ok(())
    }

    /// Updates made so far (for the bias correction).
    pub fn steps(&self) -> usize {
        self.steps
    }

    /// The moments, named `{prefix}.m.{i}` / `{prefix}.v.{i}` in the order of
    /// the variables.
    pub fn state(&self, prefix: &str) -> Vec<(String, Tensor)> {
        let mut tensors = Vec::new();
        for (i, (m, v)) in self.first.iter().zip(&self.second).enumerate() {
            tensors.push((format!("{prefix}.m.{i}"), m.clone()));
            tensors.push((format!("{prefix}.v.{i}"), v.clone()));
        }
        tensors
    }

    /// Restores what [`AdamW::state`] returned; `get` looks a name up.
    pub fn restore(
        &mut self,
        steps: usize,
        prefix: &str,
        get: &dyn Fn(&str) -> Result<Tensor>,
    ) -> Result<()> {
        for i in 0..self.vars.len() {
            let m = get(&format!("{prefix}.m.{i}"))?;
            let v = get(&format!("{prefix}.v.{i}"))?;
            if m.dims() != self.first[i].dims() || v.dims() != self.second[i].dims() {
                candle_core::bail!(
                    "optimizer state {prefix}.{i} has another shape than its weight"
                );
            }
            self.first[i] = m;
            self.second[i] = v;
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn first_step_moves_each_weight_by_the_learning_rate() {
        // With bias correction the first Adam step is lr · sign(g).
        let var = Var::new(&[1f32, -2.0, 3.0], &Device::Cpu).unwrap();
        let mut adam = AdamW::new(vec![var.clone()], 0.1, 0.0).unwrap();
        let loss = (var.as_tensor() * &Tensor::new(&[2f32, -0.5, 0.0], &Device::Cpu).unwrap())
            .unwrap()
            .sum_all()
            .unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
        let after = var.as_tensor().to_vec1::<f32>().unwrap();
        assert!((after[0] - 0.9).abs() < 1e-5, "{after:?}");
        assert!((after[1] + 1.9).abs() < 1e-5, "{after:?}");
        assert!(
            (after[2] - 3.0).abs() < 1e-5,
            "zero gradient, no move: {after:?}"
        );
    }

    #[test]
    fn weight_decay_shrinks_without_gradient_signal() {
        let var = Var::new(&[10f32], &Device::Cpu).unwrap();
        let mut adam = AdamW::new(vec![var.clone()], 0.1, 0.5).unwrap();
        let zero = Tensor::zeros(1, candle_core::DType::F32, &Device::Cpu).unwrap();
        let loss = (var.as_tensor() * &zero).unwrap().sum_all().unwrap();
        adam.step(&loss.backward().unwrap()).unwrap();
        // 10 · (1 - 0.1 · 0.5); the zero gradient gives a zero Adam update.
        let after = var.as_tensor().to_vec1::<f32>().unwrap()[0];
        assert!((after - 9.5).abs() < 1e-4, "{after}");
    }
}
