//! The `kgfuse` binary: parses the command line, calls the library, prints.
//! Errors are rendered once here, as one line on stderr with a non-zero exit.

use std::process::ExitCode;

use clap::Parser;

mod cli;

fn main() -> ExitCode {
    restore_sigpipe();
    shorten_candle_spin();
    unset_empty_settings();
    let args = cli::Cli::parse();
    match cli::run(args) {
        Ok(code) => code,
        Err(error) => {
            match hint(&error) {
                Some(hint) => eprintln!("error: {}; {hint}", one_line(&error)),
                None => eprintln!("error: {}", one_line(&error)),
            }
            ExitCode::FAILURE
        }
    }
}

/// What the user can do about a library error, in this command line's
/// words: the library names settings, not flags.
fn hint(error: &anyhow::Error) -> Option<&'static str> {
    use kgfuse::error::Setting;
    use kgfuse::Error;
    Some(match error.downcast_ref::<Error>()? {
        Error::UnknownFormat { .. } => "name the format with --format",
        Error::StoreLocked { .. } => "wait for it to finish or use --store to pick another folder",
        Error::NoStore { .. } => {
            "load data first (`kgfuse load FILE…`) or point --store / KGFUSE_STORE at an existing store"
        }
        Error::NotAStore { .. } => "give --store an empty or new folder (or an existing store)",
        Error::Setting { setting, .. } => match setting {
            Setting::Format => "give it with --format",
            Setting::BaseIri => "give it with --base IRI",
            Setting::Graph => "use --graph IRI (or --graph default)",
            Setting::MaxTriples => "raise --max-triples if the machine has the memory",
            Setting::ClassAndLabel => {
                "check --class and --label (`kgfuse query --named stats-classes` lists the classes)"
            }
            Setting::TestFraction => "set --test-fraction above 0",
        },
        _ => return None,
    })
}

/// The error and its causes on one line: a cause whose text the message
/// already carries is left out (library errors quote their I/O cause), and
/// line breaks from user input (an IRI, a query) are shown escaped.
fn one_line(error: &anyhow::Error) -> String {
    let mut message = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if message.contains(&text) {
            continue;
        }
        if !message.is_empty() {
            message.push_str(": ");
        }
        message.push_str(&text);
    }
    message
        .chars()
        .flat_map(|c| match c {
            '\n' => "\\n".chars().collect::<Vec<_>>(),
            '\r' => "\\r".chars().collect(),
            c if c.is_control() => c.escape_default().collect(),
            c => vec![c],
        })
        .collect()
}

/// Rust ignores SIGPIPE, which turns `kgfuse query … | head` into a panic
/// when `head` exits; the default action ends the process quietly instead.
fn restore_sigpipe() {
    #[cfg(unix)]
    // SAFETY: resetting a signal to its default action at start-up, before
    // any other thread exists.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// `KGFUSE_STORE=` or `KGFUSE_BERT_DIR=` (set but empty) mean "not set",
/// as an empty `PATH` entry does, rather than a folder named "".
fn unset_empty_settings() {
    for var in ["KGFUSE_STORE", "KGFUSE_BERT_DIR", "KGFUSE_MODEL_DIR"] {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // Edition 2021: safe; we are still single-threaded here.
            std::env::remove_var(var);
        }
    }
}

/// candle's elementwise thread pool spins 25,000 times before parking a
/// worker; on two cores the spinning worker steals the core that the matmul
/// needs. 5,000 measured +20 % sentences/s at batch 16 and +15 % at batch 64
/// when `kgfuse embed` still ran on candle's ops (2,000 MetaQA questions);
/// training still does. A value set by the user wins.
fn shorten_candle_spin() {
    const VAR: &str = "CANDLE_BARRIER_POOL_SPIN_LIMIT";
    if std::env::var_os(VAR).is_none() {
        // Edition 2021: safe; we are still single-threaded here.
        std::env::set_var(VAR, "5000");
    }
}
