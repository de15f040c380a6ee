//! The process entry: parse the command line (a usage error is one line,
//! JSON with `--json`), set up logging (sled's own log lines off), run the
//! command, and print a failure as one line with its exit code.

use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use super::{run, Cli, Failure};

pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) {
                let _ = e.print();
                return ExitCode::SUCCESS;
            }
            // args_os: an argument that is not UTF-8 is what got us here
            // (clap's InvalidUtf8), so `args()` would panic on it.
            let json = std::env::args_os().any(|a| a == "--json");
            // One line: clap's meaningful lines joined (the missing
            // arguments' names included), without "Usage:" and the hint.
            let msg = e.to_string();
            let mut message = String::new();
            let whole_help = e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand;
            if whole_help {
                // clap's answer is the whole help: keep its usage line only
                let usage = msg.lines().find_map(|l| l.trim().strip_prefix("Usage:")).unwrap_or("").trim();
                message = format!("a subcommand is required: {usage}");
            }
            for raw in msg.lines().filter(|_| !whole_help) {
                let l = raw.trim().trim_start_matches("error: ").trim();
                if l.starts_with("Usage:") {
                    break;
                }
                if l.is_empty() || l.starts_with("For more information") {
                    continue;
                }
                if !message.is_empty() {
                    // clap lists the missing arguments one per indented line
                    let item = raw.starts_with(char::is_whitespace) && !l.starts_with("tip:");
                    message.push_str(match (message.ends_with(':'), item) {
                        (true, _) => " ",
                        (false, true) => ", ",
                        (false, false) => "; ",
                    });
                }
                message.push_str(l);
            }
            if message.is_empty() {
                message = "invalid arguments".to_string();
            }
            if json {
                eprintln!("{}", json!({"error": {"code": "invalid_argument", "message": message}}));
            } else {
                eprintln!("error [invalid_argument]: {message}");
            }
            return ExitCode::from(2);
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PIL_LOG").unwrap_or_else(|_| "warn,sled=off".into()),
        )
        .with_writer(std::io::stderr)
        // Colour codes only for a person at a terminal, not in a log file
        // or a pipe.
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let json = cli.json;
    match crate::writer::check_clock_env().map_err(Failure::from).and_then(|()| run(cli)) {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            if json {
                eprintln!("{}", json!({"error": {"code": f.code, "message": f.message}}));
            } else {
                eprintln!("error [{}]: {}", f.code, f.message);
            }
            ExitCode::from(f.exit)
        }
    }
}
