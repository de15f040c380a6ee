//! `stress`: real keys enrolled for the run, real signed statements, through
//! the same writer as every append, from C concurrent clients. Prints
//! `ack SEQ HASH` per acknowledged entry the moment it is acknowledged
//! (stdout flushed), and ends stderr with entries/s beside raw one-core
//! `verify_strict`/s measured in the same run.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use pil_ledger_core::authority::Role;
use pil_ledger_core::wire::Body;

use crate::cli::Failure;
use crate::ledger::{self, Ack, Ledger, LedgerError};

/// Raw one-core `verify_strict` rate, measured for about `dur`.
pub fn raw_verify_strict_per_sec(dur: Duration) -> f64 {
    let k = SigningKey::from_bytes(&[42; 32]);
    let vk = k.verifying_key();
    let msg = [7u8; 32];
    let sig = k.sign(&msg);
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < dur {
        for _ in 0..64 {
            std::hint::black_box(vk.verify_strict(std::hint::black_box(&msg), &sig)).expect("valid");
        }
        n += 64;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn emit(out: &std::io::Stdout, ack: &Ack) {
    let mut o = out.lock();
    let _ = writeln!(o, "ack {} {}", ack.seq, hex::encode(ack.hash));
    let _ = o.flush();
}

pub fn run(data: &Path, count: u64, clients: u64, json: bool) -> Result<u8, Failure> {
    if clients == 0 {
        return Err(Failure { exit: 2, code: "invalid_argument", message: "--clients must be at least 1".into() });
    }
    let raw = raw_verify_strict_per_sec(Duration::from_millis(300));
    // No ledger yet, or one whose init died before its genesis was durable:
    // (re)initialise; `init` clears an unfinished one.
    let ledger = match Ledger::open(data, true) {
        Err(LedgerError::NotALedger(_)) => {
            let l = Ledger::init(data, "stress.local/pil-ledger", "Stress Key Officer", "stress")?;
            eprintln!("stress: new ledger at {}, {}", data.display(), l.vkey().to_vkey_string());
            l
        }
        other => other?,
    };
    let officer = ledger::read_key_file(&ledger.paths().officer_key())?;
    let out = std::io::stdout();
    // One prosecutor key per client, enrolled through the writer.
    let mut keys = Vec::new();
    for i in 0..clients {
        let k = pil_ledger_core::keys::generate();
        let body = Body::enrol(
            k.verifying_key().to_bytes(),
            format!("Stress Prosecutor {i}"),
            "stress",
            vec![Role::Prosecutor],
        );
        let ack = ledger.append_signed(&officer, "", body)?;
        emit(&out, &ack);
        keys.push(k);
    }
    let mut run_id = [0u8; 4];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut run_id);
    let run_id = hex::encode(run_id);
    let writer = ledger.writer()?.clone();
    let origin = ledger.origin().to_string();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, LedgerError>> = rt.block_on(async {
        let mut tasks = Vec::new();
        let keys = Arc::new(keys);
        for c in 0..clients {
            let n = count / clients + u64::from(c < count % clients);
            let (writer, origin, keys, run_id) = (writer.clone(), origin.clone(), keys.clone(), run_id.clone());
            tasks.push(tokio::spawn(async move {
                let out = std::io::stdout();
                let mut lat = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let case_id = format!("STRESS-{run_id}-{c}-{i}");
                    let body = Body::CaseOpened {
                        title: format!("stress case {i}"),
                        area: "ecology".into(),
                        unit: "stress".into(),
                    };
                    let (st, sig) = ledger::sign_statement(&origin, &keys[c as usize], &case_id, body);
                    let t = Instant::now();
                    let ack = writer.append(st, sig).await?;
                    lat.push(t.elapsed());
                    emit(&out, &ack);
                }
                Ok(lat)
            }));
        }
        let mut res = Vec::new();
        for t in tasks {
            res.push(t.await.unwrap_or_else(|e| Err(LedgerError::WriterStopped(format!("client task failed: {e}")))));
        }
        res
    });
    let elapsed = start.elapsed();
    drop(writer); // the writer thread ends when its last handle is gone
    let mut lat: Vec<Duration> = Vec::new();
    for r in results {
        lat.extend(r?);
    }
    lat.sort();
    let pct = |p: f64| {
        lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1))).copied().unwrap_or_default()
    };
    let rate = lat.len() as f64 / elapsed.as_secs_f64();
    let (p50, p99) = (pct(0.50), pct(0.99));
    let disk = crate::store::Store::disk_bytes(ledger.store()).unwrap_or(0);
    ledger.close();
    if json {
        eprintln!(
            "{}",
            serde_json::json!({
                "entries": lat.len(), "seconds": elapsed.as_secs_f64(), "entries_per_sec": rate,
                "raw_verify_strict_per_sec_one_core": raw, "ratio": rate / raw,
                "ack_p50_ms": p50.as_secs_f64() * 1e3, "ack_p99_ms": p99.as_secs_f64() * 1e3, "clients": clients,
                "disk_bytes": disk,
            })
        );
    } else {
        eprintln!(
            "stress: {} entries from {clients} clients in {:.2} s = {:.0} entries/s; ack p50 {:.2} ms p99 {:.2} ms; raw verify_strict (1 core, same run) = {:.0}/s; ratio {:.2}x",
            lat.len(),
            elapsed.as_secs_f64(),
            rate,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3,
            raw,
            rate / raw
        );
    }
    Ok(0)
}
