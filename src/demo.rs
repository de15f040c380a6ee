//! `pil-ledger demo`: the README's first command. It builds a small real
//! ledger under --data (init if needed): enrols a prosecutor and an
//! assistant, opens a case, registers a lab report collected by both (the
//! second collector endorses), then verifies the whole ledger and the file.

use std::path::Path;

use pil_ledger_core::authority::Role;
use pil_ledger_core::keys;
use pil_ledger_core::verify::VerdictKind;
use pil_ledger_core::wire::Body;

use crate::cli::{print_ack, print_verdict, progress_bar, Failure};
use crate::ledger::{self, Ledger, LedgerError};

/// The README's first command: a small ledger, built and verified for real.
const UNIT: &str = "Beijing No.4 Branch, Public-Interest Litigation Dept.";

pub fn demo(data: &Path, json: bool) -> Result<u8, Failure> {
    let paths = ledger::Paths::new(data);
    let existing = match Ledger::open(data, true) {
        Err(LedgerError::NotALedger(_)) => None,
        other => Some(other?),
    };
    let l = if let Some(l) = existing {
        eprintln!("demo: using the existing ledger at {}", data.display());
        l
    } else {
        let l = Ledger::init(
            data,
            "demo.pil-ledger.local/bj-procuratorate",
            "Wang Wu (key officer)",
            "Beijing No.4 Branch",
        )?;
        eprintln!("demo: new ledger at {}\n  verifier key: {}", data.display(), l.vkey().to_vkey_string());
        l
    };
    let officer = ledger::read_key_file(&paths.officer_key())?;
    let n = l.head()?.size;
    let pros = keys::generate();
    let assistant = keys::generate();
    let mut acks = Vec::new();
    acks.push(l.append_signed(
        &officer,
        "",
        Body::enrol(pros.verifying_key().to_bytes(), format!("Li Si (prosecutor {n})"), UNIT, vec![Role::Prosecutor]),
    )?);
    acks.push(l.append_signed(
        &officer,
        "",
        Body::enrol(
            assistant.verifying_key().to_bytes(),
            format!("Zhao Liu (assistant {n})"),
            UNIT,
            vec![Role::Assistant],
        ),
    )?);
    let case_id = format!("（2026）京04民初{}号", 100 + n);
    let opened = l.append_signed(
        &pros,
        &case_id,
        Body::CaseOpened {
            title: "Chaobai River illegal discharge".into(),
            area: "ecology".into(),
            unit: "Beijing No.4 Branch".into(),
        },
    )?;
    acks.push(opened.clone());
    acks.push(l.append_signed(
        &assistant,
        &case_id,
        Body::Endorsed { entry_hash: opened.hash, capacity: "witness".into() },
    )?);
    // A piece of evidence: a water-sample report collected by both of them.
    let file = data.join("demo-files").join(format!("water-sample-{n}.txt"));
    std::fs::create_dir_all(file.parent().expect("has a parent"))?;
    std::fs::write(&file, format!("Chaobai River outfall 3, sample {n}: COD 182 mg/L (limit 50)\n"))?;
    let fd = crate::evidence_add::hash_path(&file)?;
    let registered = l.append_signed(&pros, &case_id, demo_evidence(&fd, n))?;
    acks.push(registered.clone());
    acks.push(l.append_signed(
        &assistant,
        &case_id,
        Body::Endorsed { entry_hash: registered.hash, capacity: "second-collector".into() },
    )?);
    for a in &acks {
        print_ack(json, a);
    }
    let size = l.head()?.size;
    let pb = progress_bar(size, "verify");
    let verdict = l.verify(&|done, _| pb.set_position(done))?;
    pb.finish_and_clear();
    print_verdict(json, &verdict);
    let (file_verdict, extra) = crate::evidence_read::file_verdict(&l, &fd)?;
    if !json {
        println!("verify-file {}:", file.display());
    }
    crate::evidence_read::print_file_verdict(json, &file_verdict, &extra, crate::evidence_read::Zone::from_env()?);
    let bad = verdict.verdict == VerdictKind::Invalid || file_verdict.verdict == VerdictKind::Invalid;
    Ok(if bad { 1 } else { 0 })
}

fn demo_evidence(fd: &pil_ledger_core::digest::FileDigests, n: u64) -> Body {
    Body::EvidenceRegistered {
        evidence_id: crate::evidence_add::readable_id(&fd.blake3),
        category: "documentary".into(),
        digests: fd.digests(),
        size: fd.size,
        media_type: "text/plain".into(),
        physical: false,
        description: format!("water-sample lab report {n}"),
        source: "Beijing Environmental Monitoring Centre".into(),
        method: "on-site sampling, laboratory analysis".into(),
        legal_basis: "Civil Procedure Law art. 58; SPP Public-Interest Litigation Rules art. 32".into(),
        collectors: vec![format!("Li Si (prosecutor {n})"), format!("Zhao Liu (assistant {n})")],
        witness: String::new(),
        place: "Chaobai River outfall 3".into(),
        collected_at_ms: ledger::now_ms(),
        collected_tz_offset_min: 480,
        tool: "pil-ledger".into(),
        tool_version: env!("CARGO_PKG_VERSION").into(),
        original_medium: "paper report, scanned".into(),
        provenance: String::new(),
        prior_digests: vec![],
    }
}
