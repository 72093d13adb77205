//! Every `kgfuse …` command shown in README.md and in the `--help`
//! examples parses with the binary's own argument parser, and the ones that
//! work on a store, a generated world or the embedding model run for real on
//! the sample (the training commands over the shared data sets are run by
//! their own tests and benches, with the same flags).

mod common;

use std::path::Path;

use clap::{CommandFactory, Parser};
use common::{shared_data, stdout_of, Workspace};

#[allow(dead_code, unused_imports)]
#[path = "../src/cli/mod.rs"]
mod cli;

/// Commands in the README's `sh` blocks, continuation lines joined and
/// trailing comments and `&& …` tails cut.
fn readme_commands() -> Vec<String> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let mut commands = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            in_block = line == "```sh";
            continue;
        }
        if !in_block {
            continue;
        }
        pending.push_str(line.trim());
        if let Some(open) = pending.strip_suffix('\\') {
            pending = format!("{} ", open.trim_end());
            continue;
        }
        let command = std::mem::take(&mut pending);
        // `producer | kgfuse …`: the kgfuse part.
        let command = match command.split_once("| kgfuse ") {
            Some((_, rest)) => format!("kgfuse {rest}"),
            None => command,
        };
        if command.starts_with("kgfuse ") {
            commands.push(command);
        }
    }
    commands.into_iter().map(|c| cut_tail(&c)).collect()
}

/// The examples of every sub-command's help.
fn help_commands() -> Vec<String> {
    // The examples live in each command's after-help, read unwrapped.
    fn collect(command: &clap::Command, texts: &mut Vec<String>) {
        texts.extend(command.get_after_help().map(ToString::to_string));
        texts.extend(command.get_after_long_help().map(ToString::to_string));
        for sub in command.get_subcommands() {
            collect(sub, texts);
        }
    }
    let mut texts = Vec::new();
    collect(&cli::Cli::command(), &mut texts);
    let mut commands = Vec::new();
    for text in texts {
        let mut pending = String::new();
        for line in text.lines() {
            let line = line.trim();
            if pending.is_empty() && !line.starts_with("kgfuse ") {
                continue;
            }
            pending.push_str(line);
            if let Some(open) = pending.strip_suffix('\\') {
                pending = format!("{} ", open.trim_end());
                continue;
            }
            commands.push(cut_tail(&std::mem::take(&mut pending)));
        }
    }
    commands
}

/// Drops a `# comment` (a `#` after whitespace), a `&& …` or `| …` tail,
/// and the gap before help-text descriptions (two or more spaces).
fn cut_tail(command: &str) -> String {
    let mut end = command.len();
    for marker in [" #", " && ", " | ", "   "] {
        if let Some(at) = command.find(marker) {
            end = end.min(at);
        }
    }
    command[..end].trim().to_owned()
}

/// Shell words of a command line (quotes '…' and "…" kept together).
fn words(command: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in command.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[test]
fn every_documented_command_parses() {
    let commands: Vec<String> = readme_commands()
        .into_iter()
        .chain(help_commands())
        .collect();
    assert!(
        commands.len() > 60,
        "only {} commands found",
        commands.len()
    );
    let mut failures = Vec::new();
    for command in &commands {
        if let Err(e) = cli::Cli::try_parse_from(words(command)) {
            failures.push(format!(
                "{command}\n  {}",
                e.to_string().lines().next().unwrap_or("")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The commands that need neither a trained model nor minutes of training
/// run for real, in order, against one store holding the sample.
#[test]
fn documented_store_commands_run() {
    let ws = Workspace::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let shared = shared_data();
    for folder in ["ontologies", "data", "queries"] {
        std::os::unix::fs::symlink(root.join(folder), ws.path(folder)).unwrap();
    }
    // A folder of RDF files (and one that is not) stands in for FIBO.
    ws.write("fibo/a.ttl", "<urn:fibo:a> a <urn:fibo:Class> .\n");
    ws.write("fibo/more/b.rdf", "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description rdf:about=\"urn:fibo:b\"><rdf:type rdf:resource=\"urn:fibo:Class\"/></rdf:Description></rdf:RDF>\n");
    ws.write("fibo/README.md", "not RDF");
    // The inputs the examples name.
    ws.write(
        "question.rq",
        "SELECT ?c WHERE { ?c a risk:Company } LIMIT 3",
    );
    ws.write(
        "my-query.rq",
        "SELECT ?c WHERE { ?c a risk:Company } LIMIT 3",
    );
    ws.write("changes.ru", "INSERT DATA { <urn:x> <urn:y> <urn:z> }");
    ws.write("fix-labels.ru", "DELETE DATA { <urn:x> <urn:y> <urn:z> }");
    ws.write("dump.txt", "<urn:a> <urn:b> <urn:c> .\n");
    ws.write_gz("kb.nt.gz", "<urn:kb> <urn:b> <urn:c> .\n");
    ws.write("texts.tsv", "Acme Holdings defaulted on its loan\t0:13\n");
    ws.write("questions.txt", "who controls Driftwood Capital AS\n");
    ws.write("train.txt", "a\tr\tb\n");
    let model = shared.join("models/all-MiniLM-L6-v2");
    let runnable = |command: &str| {
        let skip = [
            "kgfuse quickstart",
            "kgfuse train",
            "kgfuse evaluate",
            "kgfuse predict",
            "kgfuse explain",
            "kgfuse ask",
            "kgfuse serve",
            "kgfuse bert fetch",
            "--model ",
            "--bert ./my-bert",
            "--store ",
            "metaqa/kb.txt",
            "aifb",
        ];
        !skip.iter().any(|s| command.contains(s))
    };
    let commands: Vec<String> = readme_commands()
        .into_iter()
        .chain(help_commands())
        .filter(|c| runnable(c))
        .collect();
    assert!(
        commands.len() > 30,
        "only {} runnable commands",
        commands.len()
    );
    // The sample first, so that the examples find their entities.
    ws.kgfuse()
        .args(["load", "ontologies/", "data/finance.ttl"])
        .assert()
        .success();
    for command in &commands {
        let args = words(command);
        // The generated world reuses the sample's IRIs: it gets a store of its own.
        let mut cmd = if command.contains("/tmp/finance") {
            let mut cmd = assert_cmd::Command::cargo_bin("kgfuse").unwrap();
            cmd.current_dir(ws.dir.path())
                .arg("--store")
                .arg(ws.path("world-store"));
            cmd
        } else {
            ws.kgfuse()
        };
        cmd.env("KGFUSE_BERT_DIR", &model)
            .args(args[1..].iter().map(|a| {
                a.replace("/tmp/finance", "generated")
                    .replace("../shared/data", &shared.to_string_lossy())
            }));
        if args.last().is_some_and(|a| a == "-") {
            cmd.write_stdin("<urn:stdin> <urn:b> <urn:c> .\n");
        }
        let out = cmd.output().unwrap();
        // `check` exits 1 when it finds inconsistencies: an answer, not a failure.
        let ok = out.status.success()
            || (command.starts_with("kgfuse check") && out.status.code() == Some(1));
        assert!(ok, "{command}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(stdout_of(ws.kgfuse().args(["stats"])).contains("quads"));
}
