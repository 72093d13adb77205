//! kgfuse's tabular baselines on a CSV written by `benches/tabular_rdf.py`,
//! on the same splits as scikit-learn's there: for every `split<seed>`
//! column, fit on the `train` and `valid` rows (the models carve their own
//! validation quarter) and score on the `test` rows.
//!
//! ```text
//! cargo run --release --example tabular_baselines -- OUT_DIR/breast_cancer.csv
//! ```

use std::error::Error;
use std::path::PathBuf;
use std::time::Instant;

use kgfuse::tasks::baselines::{evaluate_baselines, BaselineModel, LabelledRows, Table};

fn main() -> Result<(), Box<dyn Error>> {
    let path = PathBuf::from(
        std::env::args()
            .nth(1)
            .ok_or("usage: tabular_baselines FILE.csv")?,
    );
    let text = std::fs::read_to_string(&path)?;
    let classes_path = path.with_extension("classes.json");
    let classes: Vec<String> = serde_json::from_str(&std::fs::read_to_string(&classes_path)?)?;
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().ok_or("empty CSV")?.split(',').collect();
    let label_at = header
        .iter()
        .position(|h| *h == "label")
        .ok_or("no label column")?;
    let seeds: Vec<(usize, u64)> = header
        .iter()
        .enumerate()
        .filter_map(|(i, h)| Some((i, h.strip_prefix("split")?.parse().ok()?)))
        .collect();
    let mut table = Table {
        columns: header[1..label_at].iter().map(|s| s.to_string()).collect(),
        rows: Vec::new(),
    };
    let (mut labels, mut splits) = (Vec::new(), Vec::new());
    for line in lines {
        let cells: Vec<&str> = line.split(',').collect();
        table.rows.push(
            cells[1..label_at]
                .iter()
                .map(|c| c.parse::<f32>())
                .collect::<Result<_, _>>()?,
        );
        labels.push(cells[label_at].parse::<usize>()?);
        splits.push(
            seeds
                .iter()
                .map(|&(i, _)| cells[i].to_owned())
                .collect::<Vec<_>>(),
        );
    }
    println!(
        "{}: {} rows, {} columns, classes {classes:?}",
        path.display(),
        table.rows.len(),
        table.columns.len()
    );
    let mut scores: Vec<(BaselineModel, Vec<f64>, Vec<f64>)> = Vec::new();
    for (s, &(_, seed)) in seeds.iter().enumerate() {
        let pick = |keep: &dyn Fn(&str) -> bool| -> Vec<usize> {
            (0..labels.len()).filter(|&r| keep(&splits[r][s])).collect()
        };
        let train = pick(&|v| v == "train" || v == "valid");
        let test = pick(&|v| v == "test");
        let train_labels: Vec<usize> = train.iter().map(|&r| labels[r]).collect();
        let test_labels: Vec<usize> = test.iter().map(|&r| labels[r]).collect();
        let started = Instant::now();
        let results = evaluate_baselines(
            &table,
            LabelledRows {
                rows: &train,
                labels: &train_labels,
            },
            LabelledRows {
                rows: &test,
                labels: &test_labels,
            },
            &classes,
            classes.len() - 1,
            seed,
        )?;
        let seconds = started.elapsed().as_secs_f64();
        for r in results {
            let auc = r.roc_auc.unwrap_or(f64::NAN);
            println!(
                "  seed {seed} {:<20} ROC-AUC {auc:.4} accuracy {:.4}  ({}; both models {seconds:.2} s)",
                r.model.to_string(),
                r.metrics.accuracy,
                r.hyper_parameters
            );
            match scores.iter_mut().find(|(m, _, _)| *m == r.model) {
                Some((_, a, b)) => {
                    a.push(auc);
                    b.push(r.metrics.accuracy);
                }
                None => scores.push((r.model, vec![auc], vec![r.metrics.accuracy])),
            }
        }
    }
    let mean_std = |v: &[f64]| {
        let m = v.iter().sum::<f64>() / v.len() as f64;
        (
            m,
            (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / v.len() as f64).sqrt(),
        )
    };
    for (model, aucs, accuracies) in &scores {
        let ((am, asd), (cm, csd)) = (mean_std(aucs), mean_std(accuracies));
        println!(
            "kgfuse {:<20} ROC-AUC {am:.4} +- {asd:.4}   accuracy {cm:.4} +- {csd:.4}",
            model.to_string()
        );
    }
    Ok(())
}
