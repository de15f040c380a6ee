//! How the CLI shows things: acknowledgements, verdicts, progress bars,
//! and the small argument parsers they share.

use pil_ledger_core::keys;
use pil_ledger_core::verify::LedgerVerdict;
use pil_ledger_core::wire::Hash32;

use super::{refused, Failure};
use crate::ledger::Ack;

pub(crate) fn print_ack(json: bool, ack: &Ack) {
    if json {
        println!("{}", ack.to_json());
    } else {
        let mut extra = String::new();
        for (k, v) in &ack.created {
            extra.push_str(&format!(" {k}={v}"));
        }
        let dup = if ack.duplicate { " (already in the log)" } else { "" };
        println!("appended seq {} hash {}{extra}{dup}; checkpoint size {}", ack.seq, hex::encode(ack.hash), ack.size);
    }
}

pub(super) fn hexes(v: &[Hash32]) -> Vec<String> {
    v.iter().map(hex::encode).collect()
}

pub(super) fn pubkey_arg(s: &str) -> Result<[u8; 32], Failure> {
    keys::parse_public_hex(s).map_err(|e| refused("invalid_key", format!("--pubkey: {e}")))
}

pub(crate) fn progress_bar(len: u64, what: &str) -> indicatif::ProgressBar {
    let pb = indicatif::ProgressBar::with_draw_target(Some(len), indicatif::ProgressDrawTarget::stderr());
    pb.set_style(
        indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} entries ({per_sec}, eta {eta})")
            .expect("template")
            .progress_chars("=> "),
    );
    pb.set_message(what.to_string());
    pb
}

pub(crate) fn print_verdict(json: bool, v: &LedgerVerdict) {
    if json {
        println!("{}", serde_json::to_string(v).expect("verdict serialises"));
        return;
    }
    match v.first_bad_seq {
        Some(s) => println!("{}: {} entries, first bad seq {s}", v.verdict.as_str(), v.entries),
        None => println!("{}: {} entries, root {}", v.verdict.as_str(), v.entries, hex::encode(v.root)),
    }
    for r in &v.reasons {
        let seq = r.seq.map_or(String::new(), |s| format!(" seq {s}"));
        println!("  {:?} {}{seq}: {}", r.severity, r.code, r.message);
    }
    if v.more_reasons > 0 {
        println!("  ... and {} more", v.more_reasons);
    }
}
