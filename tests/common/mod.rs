//! Helpers shared by the integration tests: a fresh store folder per test and
//! the `kgfuse` binary pointed at it.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use candle_transformers::models::bert::{BertModel, Config};
use tempfile::TempDir;

/// A temporary working folder with its own store.
pub struct Workspace {
    pub dir: TempDir,
}

impl Workspace {
    pub fn new() -> Self {
        Self {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn store(&self) -> PathBuf {
        self.path("store")
    }

    /// Writes a file (creating folders) and returns its path.
    pub fn write(&self, name: &str, content: impl AsRef<[u8]>) -> PathBuf {
        let path = self.path(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, content).unwrap();
        path
    }

    /// Writes a gzip-compressed file.
    pub fn write_gz(&self, name: &str, content: &str) -> PathBuf {
        use std::io::Write;
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(content.as_bytes()).unwrap();
        self.write(name, encoder.finish().unwrap())
    }

    /// The binary with `--store` set to this workspace's store.
    pub fn kgfuse(&self) -> Command {
        let mut cmd = Command::cargo_bin("kgfuse").expect("kgfuse binary");
        cmd.current_dir(self.dir.path())
            .env_remove("KGFUSE_STORE")
            .arg("--store")
            .arg(self.store());
        cmd
    }

    /// Runs a SELECT and returns its TSV rows without the header.
    pub fn select(&self, query: &str) -> Vec<String> {
        stdout_of(self.kgfuse().args(["query", "--format", "tsv", query]))
            .lines()
            .skip(1)
            .map(str::to_owned)
            .collect()
    }

    /// Number of triples in the union of all graphs.
    pub fn count(&self) -> u64 {
        let rows = self.select("SELECT (COUNT(*) AS ?n) WHERE { ?s ?p ?o }");
        parse_count(&rows[0])
    }

    /// Loads the risk ontology and the finance sample and reasons over them,
    /// as `kgfuse quickstart` does.
    pub fn load_reasoned_sample(&self) {
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        self.kgfuse()
            .arg("load")
            .arg(repo.join("ontologies/risk.ttl"))
            .arg(repo.join("data/finance.ttl"))
            .assert()
            .success();
        self.kgfuse().arg("reason").assert().success();
    }
}

/// Runs a command that must succeed (its stderr is the failure message)
/// and returns its standard output.
pub fn stdout_of(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Parses a TSV cell holding an xsd:integer (`42` or `"42"^^<…integer>`).
pub fn parse_count(cell: &str) -> u64 {
    let plain = cell.trim().trim_start_matches('"');
    let digits: String = plain.chars().take_while(char::is_ascii_digit).collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("not a count: {cell}"))
}

/// `../shared/data` next to the repository, or `KGFUSE_SHARED_DATA`.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("KGFUSE_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.is_dir(),
        "shared data sets not found at {}; set KGFUSE_SHARED_DATA",
        dir.display()
    );
    dir
}

/// The device the model tests run on: `KGFUSE_TEST_DEVICE` (`cpu`, `cuda`,
/// `cuda:N` or `auto`, as `--device`; `.ci/cuda-build` sets it where there is
/// a GPU), else the CPU.
pub fn device() -> Device {
    match std::env::var("KGFUSE_TEST_DEVICE") {
        Ok(spec) => kgfuse::text::parse_device(&spec)
            .unwrap_or_else(|e| panic!("KGFUSE_TEST_DEVICE={spec}: {e}")),
        Err(_) => Device::Cpu,
    }
}

pub const VOCAB: &[&str] = &[
    "[PAD]",
    "[UNK]",
    "[CLS]",
    "[SEP]",
    "[MASK]",
    "acme",
    "holdings",
    "defaulted",
    "on",
    "its",
    "loan",
    "the",
    "bank",
    "fined",
    "a",
    "##s",
    "##ed",
    "zurich",
    "ltd",
    ".",
    "who",
    "directed",
    "which",
    "films",
    "starred",
];

/// Layers of [`tiny_bert`].
pub const TINY_BERT_LAYERS: usize = 2;

/// A 2-layer, 16-wide BERT with random weights and a WordPiece tokenizer,
/// written as a checkpoint folder like any real one.
pub fn tiny_bert(dir: &Path) {
    let config = serde_json::json!({
        "vocab_size": VOCAB.len(), "hidden_size": 16, "num_hidden_layers": TINY_BERT_LAYERS, "num_attention_heads": 2,
        "intermediate_size": 32, "hidden_act": "gelu", "hidden_dropout_prob": 0.0, "max_position_embeddings": 32,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12, "pad_token_id": 0,
        "model_type": "bert"
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    let config: Config = serde_json::from_value(config).unwrap();
    let varmap = VarMap::new();
    BertModel::load(
        VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu),
        &config,
    )
    .unwrap();
    varmap.save(dir.join("model.safetensors")).unwrap();
    let vocab: serde_json::Map<String, serde_json::Value> = VOCAB
        .iter()
        .enumerate()
        .map(|(i, w)| ((*w).to_owned(), serde_json::json!(i)))
        .collect();
    let special = |id: usize| {
        serde_json::json!({"id": id, "content": VOCAB[id], "single_word": false, "lstrip": false,
        "rstrip": false, "normalized": false, "special": true})
    };
    let tokenizer = serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0), special(1), special(2), special(3), special(4)],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true,
                       "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": vocab}
    });
    std::fs::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
}

/// A `kgfuse serve` process on a free loopback port, stopped on drop.
pub struct Server {
    child: std::process::Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// Its standard error so far (the request log), filled by a thread.
    pub log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `kgfuse --store STORE serve --bind 127.0.0.1:0 ARGS…` with `env`
    /// and waits until it listens.
    pub fn start(ws: &Workspace, args: &[&str], env: &[(&str, &str)]) -> Self {
        use std::io::BufRead;
        let binary = assert_cmd::cargo::cargo_bin("kgfuse");
        let mut command = std::process::Command::new(binary);
        command
            .current_dir(ws.dir.path())
            .env_remove("KGFUSE_STORE")
            .env_remove("KGFUSE_TOKEN")
            .arg("--store")
            .arg(ws.store())
            .args(["serve", "--bind", "127.0.0.1:0"])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped());
        for (key, value) in env {
            command.env(key, value);
        }
        let mut child = command.spawn().expect("kgfuse serve starts");
        let stderr = child.stderr.take().unwrap();
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (sender, receiver) = std::sync::mpsc::channel();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr)
                .lines()
                .map_while(Result::ok)
            {
                if let Some(address) = line.strip_prefix("listening on ") {
                    let _ = sender.send(address.to_owned());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let base = receiver
            .recv_timeout(std::time::Duration::from_secs(120))
            .unwrap_or_else(|_| panic!("the server did not start: {:?}", log.lock().unwrap()));
        Self { child, base, log }
    }

    /// Waits up to five seconds for a log line with every one of `parts`
    /// (the log is written after the response is sent).
    pub fn logged(&self, parts: &[&str]) -> bool {
        for _ in 0..250 {
            let found = self
                .log
                .lock()
                .unwrap()
                .iter()
                .any(|line| parts.iter().all(|p| line.contains(p)));
            if found {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        false
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM and returns the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns error statuses as responses.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

/// POSTs a JSON body; the status and the JSON answer.
pub fn post_json(url: &str, body: &str) -> (u16, serde_json::Value) {
    let mut response = http()
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    (status, serde_json::from_str(&text).unwrap())
}

/// Runs a check of `tests/clients/workbench.py` in headless Chromium
/// against `server`, saving its screenshot in the tests' output folder.
pub fn browser_check(server: &Server, args: &[&str]) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/workbench.py");
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("workbench-screenshots");
    let output = std::process::Command::new("python3")
        .arg(script)
        .arg(&server.base)
        .args(args)
        .env("KGFUSE_SCREENSHOTS", screenshots)
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{args:?}\n{stdout}\n{stderr}");
}

/// Twenty-four people in two departments, labelled by group (`ex:group`
/// "R" or "S", the department's initial), each knowing the one two along.
pub fn toy_turtle() -> String {
    let mut ttl = String::from("@prefix ex: <http://example.com/> .\n");
    for i in 0..24 {
        let dept = if i % 2 == 0 {
            "ex:research"
        } else {
            "ex:sales"
        };
        let label = if i % 2 == 0 { "\"R\"" } else { "\"S\"" };
        ttl.push_str(&format!(
            "ex:p{i} ex:worksIn {dept} ; ex:group {label} ; ex:knows ex:p{} .\n",
            (i + 2) % 24
        ));
    }
    ttl
}

/// The base IRI of the movie KB.
pub const MOVIES: &str = "http://example.org/movies/";

/// Six films with directors and actors, and a genre every film shares with
/// twenty filler films (a hub), in pipe syntax (load under [`MOVIES`]).
pub fn movie_kb() -> String {
    let mut kb = String::from(
        "The Ice Storm|directed_by|Ang Lee
The Ice Storm|starred_actors|Christina Ricci
The Ice Storm|starred_actors|Kevin Kline
Sleepy Hollow|directed_by|Tim Burton
Sleepy Hollow|starred_actors|Christina Ricci
Sleepy Hollow|starred_actors|Johnny Depp
Ed Wood|directed_by|Tim Burton
Ed Wood|starred_actors|Johnny Depp
Amélie|directed_by|Jean-Pierre Jeunet
Amélie|starred_actors|Audrey Tautou
Delicatessen|directed_by|Jean-Pierre Jeunet
Delicatessen|starred_actors|Dominique Pinon
Lust Caution|directed_by|Ang Lee
Lust Caution|starred_actors|Tang Wei
",
    );
    for film in [
        "The Ice Storm",
        "Sleepy Hollow",
        "Ed Wood",
        "Amélie",
        "Delicatessen",
        "Lust Caution",
    ] {
        kb.push_str(&format!("{film}|has_genre|Drama\n"));
    }
    for i in 0..20 {
        kb.push_str(&format!("Filler {i}|has_genre|Drama\n"));
    }
    kb
}

/// Each film of [`movie_kb`] and its director.
pub const DIRECTED: [(&str, &str); 6] = [
    ("The Ice Storm", "Ang Lee"),
    ("Sleepy Hollow", "Tim Burton"),
    ("Ed Wood", "Tim Burton"),
    ("Amélie", "Jean-Pierre Jeunet"),
    ("Delicatessen", "Jean-Pierre Jeunet"),
    ("Lust Caution", "Ang Lee"),
];

/// Questions of two shapes; every film and actor appears in both splits.
pub fn movie_questions() -> String {
    let directed = DIRECTED;
    let starred = [
        ("Christina Ricci", "The Ice Storm|Sleepy Hollow"),
        ("Johnny Depp", "Sleepy Hollow|Ed Wood"),
        ("Kevin Kline", "The Ice Storm"),
        ("Audrey Tautou", "Amélie"),
        ("Dominique Pinon", "Delicatessen"),
        ("Tang Wei", "Lust Caution"),
    ];
    let mut lines = String::new();
    for _ in 0..4 {
        for (film, director) in directed {
            lines.push_str(&format!("who directed [{film}]\t{director}\n"));
        }
        for (actor, films) in starred {
            lines.push_str(&format!("which films starred [{actor}]\t{films}\n"));
        }
    }
    lines
}

/// 16 companies in Turtle: the flagged ones are high risk (`ex:risk`) and
/// say so in their text; three banks.
pub fn tiny_companies() -> String {
    let mut ttl = String::from(
        "@prefix ex: <http://example.org/> .\n@prefix rdfs: <http://www.w3.org/2000/01/rdf-schema#> .\n",
    );
    for i in 0..16 {
        let flagged = i % 2 == 0;
        let (class, comment, risk) = if flagged {
            (", ex:Flagged", "acme defaulted on its loan .", "ex:High")
        } else {
            ("", "zurich holdings ltd .", "ex:Low")
        };
        ttl.push_str(&format!(
            "ex:c{i} a ex:Company{class} ; rdfs:label \"company {i}\" ; rdfs:comment \"{comment}\" ; ex:risk {risk} ; ex:bank ex:b{} .\n",
            i % 3
        ));
    }
    for b in 0..3 {
        ttl.push_str(&format!("ex:b{b} a ex:Bank ; rdfs:label \"bank {b}\" .\n"));
    }
    ttl
}

/// `kgfuse train qa` on [`movie_questions`] (written into `ws`) with settings
/// that reach perfect accuracy on the movie KB in seconds.
pub fn train_movie_qa(ws: &Workspace, bert: &Path, out: &Path) -> Command {
    let questions = ws.write("questions.txt", movie_questions());
    let mut cmd = ws.kgfuse();
    cmd.args([
        "train",
        "qa",
        "--epochs",
        "60",
        "--lr",
        "0.02",
        "--patience",
        "60",
    ])
    .args([
        "--valid-fraction",
        "0.25",
        "--inner-dim",
        "32",
        "--batch-size",
        "8",
    ])
    .arg("--questions")
    .arg(questions)
    .arg("--bert")
    .arg(bert)
    .arg("--out")
    .arg(out);
    cmd
}

/// [`toy_turtle`] loaded into a fresh workspace, with an R-GCN trained on
/// it in the model folder `m`; the workspace and the training output.
pub fn toy_with_rgcn() -> (Workspace, String) {
    let ws = Workspace::new();
    let data = ws.write("toy.ttl", toy_turtle());
    ws.kgfuse().arg("load").arg(data).assert().success();
    let trained = stdout_of(ws.kgfuse().args([
        "train",
        "rgcn",
        "--label",
        "http://example.com/group",
        "--out",
        "m",
        "--epochs",
        "40",
        "--lr",
        "0.05",
        "--dim",
        "8",
    ]));
    (ws, trained)
}
