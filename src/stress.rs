//! `stress`: real keys enrolled for the run, real signed statements, through
//! the same writer as every append, from C concurrent clients. Prints
//! `ack SEQ HASH` per acknowledged entry the moment it is acknowledged
//! (stdout flushed) and returns a [`StressReport`] (entries/s beside raw
//! one-core `verify_strict`/s measured in the same run), which the CLI
//! prints as the last line of stderr.
//!
//! Safety (DESIGN §7.1): `stress` writes test enrolments and cases, so it
//! creates its own ledger when the data directory is absent or empty, marks
//! it with [`MARKER`], and writes into any other ledger only with
//! `--allow-existing`.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use pil_ledger_core::authority::Role;
use pil_ledger_core::wire::Body;

use crate::ack::Ack;
use crate::error::LedgerError;
use crate::ledger::{self, InitKeys, Ledger};

/// File in the data directory that says `stress` created this ledger, so
/// later `stress` runs may write into it without `--allow-existing`.
/// Written atomically (a temporary file, synced, renamed, directory synced)
/// before anything else, so a `stress` killed during its own first `init`
/// is recognised and resumed by the next one.
pub const MARKER: &str = "stress.marker";
const MARKER_TMP: &str = "stress.marker.tmp";
const MARKER_TEXT: &str = "created by `pil-ledger stress`: test enrolments and cases only\n";
/// Most concurrent clients (each gets an enrolled key).
pub const MAX_CLIENTS: u64 = 4096;

const ORIGIN: &str = "stress.local/pil-ledger";

/// What to run.
#[derive(Clone, Debug)]
pub struct StressOptions {
    pub count: u64,
    pub clients: u64,
    /// Sign every statement before the clock starts, so the figure measures
    /// the write path alone.
    pub presign: bool,
    /// Write into a ledger `stress` did not create.
    pub allow_existing: bool,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct StressReport {
    pub entries: u64,
    pub clients: u64,
    pub seconds: f64,
    pub entries_per_sec: f64,
    /// One core's `verify_strict`/s, measured in the same run.
    pub raw_verify_strict_per_sec: f64,
    pub ack_p50: Duration,
    pub ack_p99: Duration,
    pub presigned: bool,
    pub disk_bytes: u64,
    /// The verifier key line of the ledger this run created, if it did.
    pub created: Option<String>,
}

impl StressReport {
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "entries": self.entries, "seconds": self.seconds, "entries_per_sec": self.entries_per_sec,
            "raw_verify_strict_per_sec_one_core": self.raw_verify_strict_per_sec,
            "ratio": self.entries_per_sec / self.raw_verify_strict_per_sec,
            "ack_p50_ms": self.ack_p50.as_secs_f64() * 1e3, "ack_p99_ms": self.ack_p99.as_secs_f64() * 1e3,
            "clients": self.clients, "presigned": self.presigned, "disk_bytes": self.disk_bytes,
        })
    }

    /// The one-line summary (the last line of stderr).
    pub fn summary(&self) -> String {
        format!(
            "stress{}: {} entries from {} clients in {:.2} s = {:.0} entries/s; ack p50 {:.2} ms p99 {:.2} ms; raw verify_strict (1 core, same run) = {:.0}/s; ratio {:.2}x",
            if self.presigned { " (pre-signed: every statement signed before the clock started)" } else { "" },
            self.entries,
            self.clients,
            self.seconds,
            self.entries_per_sec,
            self.ack_p50.as_secs_f64() * 1e3,
            self.ack_p99.as_secs_f64() * 1e3,
            self.raw_verify_strict_per_sec,
            self.entries_per_sec / self.raw_verify_strict_per_sec
        )
    }
}

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

fn io_at(path: &Path) -> impl FnOnce(std::io::Error) -> LedgerError + '_ {
    move |source| LedgerError::IoAt { path: path.to_path_buf(), source }
}

/// Whether `data` is absent or empty (a marker's temporary file left by a
/// killed `stress` does not count).
fn absent_or_empty(data: &Path) -> Result<bool, LedgerError> {
    match std::fs::read_dir(data) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(true),
        Err(e) => Err(io_at(data)(e)),
        Ok(rd) => {
            for e in rd {
                if e.map_err(io_at(data))?.file_name() != MARKER_TMP {
                    return Ok(false);
                }
            }
            Ok(true)
        }
    }
}

fn write_marker(data: &Path) -> Result<(), LedgerError> {
    ledger::create_dir_durable(data)?;
    let tmp = data.join(MARKER_TMP);
    let mut f = std::fs::File::create(&tmp).map_err(io_at(&tmp))?;
    f.write_all(MARKER_TEXT.as_bytes()).and_then(|()| f.sync_all()).map_err(io_at(&tmp))?;
    let marker = data.join(MARKER);
    std::fs::rename(&tmp, &marker).map_err(io_at(&marker))?;
    ledger::sync_dir(data)
}

/// Where `stress` may write.
enum Plan {
    /// The data directory is absent or empty: create a ledger, marked ours.
    Create,
    /// Ours (marked): open it, or resume our own interrupted init.
    Ours,
    /// Not ours, and `--allow-existing` was given.
    Foreign,
}

/// Decide, changing nothing, whether `stress` may write into `data`.
fn plan(data: &Path, allow_existing: bool) -> Result<Plan, LedgerError> {
    match std::fs::symlink_metadata(data.join(MARKER)) {
        Ok(_) => return Ok(Plan::Ours),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_at(data)(e)),
    }
    if absent_or_empty(data)? {
        return Ok(Plan::Create);
    }
    if allow_existing {
        return Ok(Plan::Foreign);
    }
    Err(LedgerError::LedgerExists {
        path: data.to_path_buf(),
        why: "stress did not create this data directory, and writes test enrolments and cases into one it did \
              not create only with --allow-existing (or give an empty --data)"
            .into(),
    })
}

/// Open the ledger stress may write into, creating it when it may. The
/// flag is true when this run created it.
fn open_or_create(data: &Path, plan: Plan) -> Result<(Ledger, bool), LedgerError> {
    let init = |keys: InitKeys| Ledger::init_with(data, ORIGIN, "Stress Key Officer", "stress", keys);
    let (keys, open_first) = match plan {
        Plan::Create => {
            write_marker(data)?;
            (InitKeys::Resume, false)
        }
        // our own init, interrupted: its key files are reused, never replaced
        Plan::Ours => (InitKeys::Resume, true),
        // not ours: the same safe init as `pil-ledger init`
        Plan::Foreign => (InitKeys::Fresh, true),
    };
    if open_first {
        match Ledger::open(data, true) {
            Err(LedgerError::NotALedger(_)) => {}
            other => return Ok((other?, false)),
        }
    }
    Ok((init(keys)?, true))
}

/// Run `stress` on the ledger in `data` (see the module doc for which).
pub fn run(data: &Path, opts: &StressOptions) -> Result<StressReport, LedgerError> {
    let clients = opts.clients;
    if clients == 0 || clients > MAX_CLIENTS {
        return Err(LedgerError::InvalidArgument(format!("--clients must be 1 to {MAX_CLIENTS}")));
    }
    let plan = plan(data, opts.allow_existing)?;
    let raw = raw_verify_strict_per_sec(Duration::from_millis(300));
    let (ledger, created) = open_or_create(data, plan)?;
    let created = created.then(|| ledger.vkey().to_vkey_string());
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
    let origin = ledger.origin().to_string();
    let statement = move |key: &SigningKey, c: u64, i: u64| {
        let case_id = format!("STRESS-{run_id}-{c}-{i}");
        let body =
            Body::CaseOpened { title: format!("stress case {i}"), area: "ecology".into(), unit: "stress".into() };
        ledger::sign_statement(&origin, key, &case_id, body)
    };
    let per_client = |c: u64| opts.count / clients + u64::from(c < opts.count % clients);
    // --presign: every statement signed before the clock starts.
    let mut presigned: Vec<Vec<(Vec<u8>, [u8; 64])>> = Vec::new();
    if opts.presign {
        for c in 0..clients {
            presigned.push((0..per_client(c)).map(|i| statement(&keys[c as usize], c, i)).collect());
        }
    }
    let writer = ledger.writer()?.clone();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let keys = Arc::new(keys);
    let statement = Arc::new(statement);
    let start = Instant::now();
    let results: Vec<Result<Vec<Duration>, LedgerError>> = rt.block_on(async {
        let mut tasks = Vec::new();
        let mut presigned = presigned.into_iter();
        for c in 0..clients {
            let n = per_client(c);
            let (writer, keys, statement) = (writer.clone(), keys.clone(), statement.clone());
            let mut ready = presigned.next().map(Vec::into_iter);
            tasks.push(tokio::spawn(async move {
                let out = std::io::stdout();
                let mut lat = Vec::with_capacity(n as usize);
                for i in 0..n {
                    let (st, sig) = match ready.as_mut().and_then(|r| r.next()) {
                        Some(s) => s,
                        None => statement(&keys[c as usize], c, i),
                    };
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
    let disk_bytes = crate::store::Store::disk_bytes(ledger.store()).unwrap_or(0);
    ledger.close();
    Ok(StressReport {
        entries: lat.len() as u64,
        clients,
        seconds: elapsed.as_secs_f64(),
        entries_per_sec: lat.len() as f64 / elapsed.as_secs_f64(),
        raw_verify_strict_per_sec: raw,
        ack_p50: pct(0.50),
        ack_p99: pct(0.99),
        presigned: opts.presign,
        disk_bytes,
        created,
    })
}
