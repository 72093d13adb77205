//! The text encoder: equality with sentence-transformers on the real
//! all-MiniLM-L6-v2 (from ../shared/data), and a tiny random BERT built here
//! that exercises the same loading path, spans and truncation.

mod common;

use common::tiny_bert;
use kgfuse::text::{BertEncoder, SpanInput};

fn cosine(a: &[f32], b: &[f32]) -> f64 {
    let dot: f64 = a
        .iter()
        .zip(b)
        .map(|(x, y)| f64::from(*x) * f64::from(*y))
        .sum();
    let na: f64 = a.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    let nb: f64 = b.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
    dot / (na * nb).max(1e-12)
}

fn inputs(texts: &[&str]) -> Vec<SpanInput> {
    texts
        .iter()
        .map(|t| SpanInput {
            text: (*t).to_owned(),
            spans: Vec::new(),
        })
        .collect()
}

#[test]
fn matches_sentence_transformers_on_the_reference_texts() {
    let dir = common::shared_data().join("models/all-MiniLM-L6-v2");
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("reference_embeddings.json")).unwrap(),
    )
    .unwrap();
    let items = reference["items"].as_array().unwrap();
    let texts: Vec<&str> = items.iter().map(|i| i["text"].as_str().unwrap()).collect();
    let mut encoder = BertEncoder::load(&dir, &common::device()).unwrap();
    assert_eq!(encoder.max_length(), 256, "from sentence_bert_config.json");
    let default_length = encoder.embed(&inputs(&texts), 7, |_| {}).unwrap();
    assert_eq!(
        default_length.truncated, 1,
        "only the very long text exceeds 256 tokens"
    );
    // The reference file was computed with the length it states (512), whatever
    // the model folder's sentence_bert_config.json says.
    encoder
        .set_max_length(reference["max_seq_length"].as_u64().unwrap() as usize)
        .unwrap();
    let embeddings = encoder.embed(&inputs(&texts), 7, |_| {}).unwrap();
    assert_eq!(embeddings.truncated, 0);
    for (item, got) in items.iter().zip(&embeddings.sentences) {
        let want: Vec<f32> = item["embedding"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect();
        let cos = cosine(&want, got);
        assert!(cos >= 0.9999, "{:?}: cosine {cos}", item["text"]);
    }
}

#[test]
fn tiny_random_bert_loads_and_embeds_sentences_and_spans() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let encoder = BertEncoder::load(dir.path(), &common::device()).unwrap();
    assert_eq!(
        encoder.max_length(),
        32,
        "no sentence-transformers config: the position limit"
    );
    assert_eq!(encoder.hidden_size(), 16);
    let text = "Acme Holdings defaulted on its loan.";
    let batch = vec![
        SpanInput {
            text: text.to_owned(),
            spans: vec![(0, 13), (14, 23), (13, 14), (30, 99)],
        },
        SpanInput {
            text: "the bank fined Acme".to_owned(),
            spans: vec![],
        },
    ];
    let one = encoder.embed(&batch, 1, |_| {}).unwrap();
    let both = encoder.embed(&batch, 2, |_| {}).unwrap();
    for (a, b) in one.sentences.iter().zip(&both.sentences) {
        assert_eq!(a.len(), 16);
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5);
        assert!(
            cosine(a, b) > 0.99999,
            "padding must not change a text's embedding"
        );
    }
    let spans = &one.spans[0];
    assert!(spans[0].is_some() && spans[1].is_some());
    assert!(
        cosine(spans[0].as_ref().unwrap(), spans[1].as_ref().unwrap()) < 0.9999,
        "different spans differ"
    );
    assert!(spans[2].is_none(), "a span over a space has no token");
    assert!(spans[3].is_none(), "a span past the end");
    let reasons: Vec<&str> = one.issues.iter().map(|i| i.reason.as_str()).collect();
    assert_eq!(one.issues.len(), 2, "{reasons:?}");
    assert!(reasons[1].contains("outside the text"), "{reasons:?}");
}

#[test]
fn spans_in_truncated_text_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let mut encoder = BertEncoder::load(dir.path(), &common::device()).unwrap();
    encoder.set_max_length(6).unwrap();
    let text = "acme holdings defaulted on its loan the bank";
    let input = vec![SpanInput {
        text: text.to_owned(),
        spans: vec![(0, 4), (36, 44)],
    }];
    let out = encoder.embed(&input, 4, |_| {}).unwrap();
    assert_eq!(out.truncated, 1);
    assert!(out.spans[0][0].is_some());
    assert!(out.spans[0][1].is_none());
    assert!(
        out.issues[0].reason.contains("cut at the maximum length"),
        "{:?}",
        out.issues
    );
}

#[test]
fn top_layer_vars_select_the_upper_layers() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let encoder = BertEncoder::load(dir.path(), &common::device()).unwrap();
    let all = encoder.varmap().all_vars().len();
    let top = encoder.top_layer_vars(1).len();
    assert!(top > 0 && top < all, "{top} of {all}");
    assert_eq!(encoder.top_layer_vars(2).len(), 2 * top);
}

/// Sentence embeddings with every layer run by candle's differentiable
/// forward (`SplitBert::top`), to hold `embed`'s CPU forward against.
fn differentiable_sentences(encoder: &BertEncoder, texts: &[&str]) -> Vec<Vec<f32>> {
    let encodings = encoder.tokenize(texts).unwrap();
    let refs: Vec<&tokenizers::Encoding> = encodings.iter().collect();
    let split = encoder.split(common::TINY_BERT_LAYERS).unwrap();
    let states = split.bottom(&refs).unwrap();
    let (hidden, mask) = split.top(&states.iter().collect::<Vec<_>>()).unwrap();
    let pooled = kgfuse::text::encoder::masked_mean(&hidden, &mask).unwrap();
    pooled
        .to_vec2::<f32>()
        .unwrap()
        .into_iter()
        .map(|row| {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            row.iter().map(|x| x / norm).collect()
        })
        .collect()
}

fn max_abs_diff(a: &[Vec<f32>], b: &[Vec<f32>]) -> f32 {
    a.iter()
        .flatten()
        .zip(b.iter().flatten())
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A tensor of `like`'s shape with values that are neither `like`'s nor zero.
fn other_values(like: &candle_core::Tensor, phase: f32) -> candle_core::Tensor {
    let values: Vec<f32> = (0..like.elem_count())
        .map(|i| 0.5 * (i as f32 * 0.37 + phase).sin())
        .collect();
    candle_core::Tensor::from_vec(values, like.dims(), like.device()).unwrap()
}

const SENTENCES: [&str; 2] = ["acme holdings defaulted on its loan", "the bank fined acme"];

/// A tiny random BERT on the CPU (its folder lives as long as the guard).
fn tiny_cpu_encoder() -> (tempfile::TempDir, BertEncoder) {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    let encoder = BertEncoder::load(dir.path(), &candle_core::Device::Cpu).unwrap();
    (dir, encoder)
}

fn embed_sentences(encoder: &BertEncoder) -> Vec<Vec<f32>> {
    encoder
        .embed(&inputs(&SENTENCES), 2, |_| {})
        .unwrap()
        .sentences
}

/// `embed` now differs from `before` and matches the differentiable forward
/// of the encoder's current weights.
fn assert_embeddings_follow_the_weights(encoder: &BertEncoder, before: &[Vec<f32>]) {
    let after = embed_sentences(encoder);
    let reference = differentiable_sentences(encoder, &SENTENCES);
    assert!(
        max_abs_diff(before, &after) > 0.05,
        "new weights, new embeddings"
    );
    let diff = max_abs_diff(&after, &reference);
    assert!(
        diff < 1e-4,
        "CPU forward is {diff} off the new weights' forward"
    );
}

#[test]
fn embed_uses_weights_set_after_its_first_call() {
    let (_dir, encoder) = tiny_cpu_encoder();
    let before = embed_sentences(&encoder);
    let changed: Vec<_> = encoder
        .top_layer_tensors(common::TINY_BERT_LAYERS)
        .into_iter()
        .enumerate()
        .map(|(i, (name, t))| {
            let values = other_values(&t, i as f32);
            (name, values)
        })
        .collect();
    encoder.set_tensors(&changed).unwrap();
    assert_embeddings_follow_the_weights(&encoder, &before);
}

#[test]
fn embed_uses_weights_an_optimizer_changed_in_place() {
    let (_dir, encoder) = tiny_cpu_encoder();
    let before = embed_sentences(&encoder);
    // What an optimizer step does: `Var::set` on the fine-tuned weights.
    for (i, var) in encoder.top_layer_vars(1).iter().enumerate() {
        var.set(&other_values(var.as_tensor(), i as f32)).unwrap();
    }
    assert_embeddings_follow_the_weights(&encoder, &before);
}

#[test]
fn missing_files_are_named() {
    let dir = tempfile::tempdir().unwrap();
    tiny_bert(dir.path());
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let Err(error) = BertEncoder::load(dir.path(), &common::device()) else {
        panic!("loaded without a tokenizer")
    };
    assert!(
        error.to_string().contains("tokenizer.json is missing"),
        "{error}"
    );
}

#[test]
fn embed_command_writes_json_and_npy() {
    let ws = common::Workspace::new();
    let model = ws.path("tiny-bert");
    std::fs::create_dir_all(&model).unwrap();
    tiny_bert(&model);
    let out = common::stdout_of(
        ws.kgfuse()
            .args([
                "embed",
                "Acme Holdings defaulted",
                "the bank",
                "--spans",
                "0:4",
                "--bert",
            ])
            .arg(&model),
    );
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(json[0]["embedding"].as_array().unwrap().len(), 16);
    assert_eq!(json[0]["spans"][0]["start"], 0);
    assert!(json[0]["spans"][0]["embedding"].is_array());

    let file = ws.write(
        "texts.tsv",
        "Acme Holdings defaulted\t0:4,5:13\nthe bank fined acme\n",
    );
    let npy = ws.path("out.npy");
    ws.kgfuse()
        .args(["embed", "--format", "npy", "--file"])
        .arg(&file)
        .arg("--out")
        .arg(&npy)
        .arg("--bert")
        .arg(&model)
        .assert()
        .success()
        .stderr(predicates::str::contains("sentences/s"));
    let bytes = std::fs::read(&npy).unwrap();
    assert_eq!(&bytes[..6], b"\x93NUMPY");
    let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    let header = std::str::from_utf8(&bytes[10..10 + header_len]).unwrap();
    assert!(header.contains("'shape': (2, 16)"), "{header}");
    assert_eq!((10 + header_len) % 64, 0, "aligned header");
    assert_eq!(bytes.len(), 10 + header_len + 2 * 16 * 4);

    ws.kgfuse()
        .args(["embed", "x", "--spans", "5:2", "--bert"])
        .arg(&model)
        .assert()
        .failure()
        .stderr(predicates::str::contains("START must be below END"));
    ws.kgfuse()
        .args(["embed", "x", "--bert", "/nonexistent-model"])
        .assert()
        .failure()
        .stderr(predicates::str::contains("config.json is missing"));
}
