//! Fund figures, each beside a baseline measured in the same run:
//!
//! 1. Fund transfers/s through the full write path (receipts into one fund
//!    account from many payers, signed and submitted concurrently) beside
//!    plain signed appends submitted the same way (what `stress` does):
//!    issue goal ≥ 0.8×.
//! 2. `fund balance` look-ups/s (one index read and decode).
//! 3. A statement over the account's movements, rows/s, beside a raw scan
//!    of the same index records: issue goal ≥ 0.5×.
//!
//! `cargo bench --bench fund` (`PIL_BENCH_TRANSFERS`, default 20000).

use std::time::Instant;

use pil_ledger::evidence_add::submit_all;
use pil_ledger::fund_cli::movements;
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::store::{Store, StoreIndex};
use pil_ledger_core::authority::Role;
use pil_ledger_core::state::{self, index::account_key, Ns};
use pil_ledger_core::wire::{AccountKind, Body};

fn main() {
    let n: usize = std::env::var("PIL_BENCH_TRANSFERS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let l = Ledger::init(&data, "bench.example/fund", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let fin = pil_ledger_core::keys::generate();
    let pros = pil_ledger_core::keys::generate();
    for (k, name, role) in [(&fin, "Qian Qi", Role::Finance), (&pros, "Li Si", Role::Prosecutor)] {
        l.append_signed(&officer, "", Body::enrol(k.verifying_key().to_bytes(), name, "U", vec![role])).unwrap();
    }
    let open = |id: &str, kind| Body::AccountOpened {
        account_id: id.into(),
        account_kind: kind,
        name: id.into(),
        no_overdraft: false,
        stages: 0,
    };
    l.append_signed(&fin, "", open("FUND", AccountKind::Fund)).unwrap();
    l.append_signed(&fin, "", open("PAYER", AccountKind::Payer)).unwrap();

    let t = Instant::now();
    let plain: Vec<_> = (0..n)
        .map(|i| {
            let body = Body::CaseOpened { title: format!("case {i}"), area: "a".into(), unit: "u".into() };
            ledger::sign_statement(l.origin(), &pros, &format!("BASE-{i}"), body)
        })
        .collect();
    assert!(submit_all(&l, plain).unwrap_or_else(|f| panic!("{}", f.message)).iter().all(Result::is_ok));
    let base = n as f64 / t.elapsed().as_secs_f64();

    let t = Instant::now();
    let receipts: Vec<_> = (0..n)
        .map(|i| {
            let body = Body::FundReceipt {
                account_id: "FUND".into(),
                from: "PAYER".into(),
                amount_fen: 100 + i as u64,
                bank_ref: format!("B-{i}"),
            };
            ledger::sign_statement(l.origin(), &fin, "", body)
        })
        .collect();
    assert!(submit_all(&l, receipts).unwrap_or_else(|f| panic!("{}", f.message)).iter().all(Result::is_ok));
    let fund = n as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "fund transfers: {n} receipts = {fund:.0}/s; plain signed appends (stress-like) in the same run = {base:.0}/s; ratio {:.2}x (goal >= 0.8x)",
        fund / base
    );

    let view = StoreIndex(l.store());
    let t = Instant::now();
    let rounds = 100_000;
    for _ in 0..rounds {
        let a = state::account_record(&view, "FUND").unwrap().unwrap();
        std::hint::black_box(a.balance.available());
    }
    eprintln!("fund balance: {:.0} look-ups/s", rounds as f64 / t.elapsed().as_secs_f64());

    // Warm the cache once, so both timings below read the same warm records.
    std::hint::black_box(l.store().index_scan(Ns::AccountMovement, &account_key("FUND", &[])).unwrap());
    let t = Instant::now();
    let raw = l.store().index_scan(Ns::AccountMovement, &account_key("FUND", &[])).unwrap();
    let raw_rate = raw.len() as f64 / t.elapsed().as_secs_f64();
    let t = Instant::now();
    let rows = movements(&l, "FUND").unwrap_or_else(|f| panic!("{}", f.message));
    let mut running: i128 = 0;
    for m in &rows {
        running += i128::from(m.posted_fen);
    }
    std::hint::black_box(running);
    let rate = rows.len() as f64 / t.elapsed().as_secs_f64();
    eprintln!(
        "fund statement: {} movements = {rate:.0} rows/s (decoded, running balance); raw scan of the same records {raw_rate:.0}/s; ratio {:.2}x (goal >= 0.5x)",
        rows.len(),
        rate / raw_rate
    );
    l.close();
}
