//! Helpers shared by the integration tests: a fresh store folder per test and
//! the `kgfuse` binary pointed at it.

#![allow(dead_code)] // Each test file uses a different subset.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
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
        let out = self
            .kgfuse()
            .args(["query", "--format", "tsv", query])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "query failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
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
