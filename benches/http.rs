//! HTTP API figures (issue 9, "Performance"): a bounded loopback load
//! benchmark, each figure beside a baseline measured in the same run.
//!
//! The real router (`pil_ledger::server::router`) is served in-process on
//! 127.0.0.1 from one tokio runtime built like `serve`'s; a second tiny axum
//! router (`GET /static` → "ok") is served by the same runtime on another
//! port. Clients are blocking `ureq` agents, one per thread, keep-alive. The
//! clients run on the same 2 cores as the server.
//!
//! 1. Submissions/s over HTTP (`POST /v1/statements`, statements pre-signed,
//!    one request per statement, many client threads), with ack latency
//!    p50/p99, beside the same number of pre-signed statements submitted
//!    directly to the same ledger's writer (`submit_all`, what `stress` and
//!    `evidence add` do): issue goal ≥ 0.7×.
//! 2. Proof queries/s (`GET /v1/proofs/inclusion/{seq}` over the log just
//!    written) beside the static route, same client threads: issue goal
//!    ≥ 0.5×.
//!
//! `cargo bench --bench http` (`PIL_BENCH_HTTP_QUERIES`, default 20000;
//! `PIL_BENCH_HTTP_SUBMITS`, default 10000; `PIL_BENCH_HTTP_CLIENTS`, submit
//! client threads, default 128; `PIL_BENCH_HTTP_READERS`, query client
//! threads, default 16).

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use pil_ledger::evidence_add::submit_all;
use pil_ledger::ledger::{self, Ledger};
use pil_ledger::server::{self, auth, AppState, Limits, Shared};
use pil_ledger_core::authority::Role;
use pil_ledger_core::wire::Body;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(default)
}

/// Sorted latencies → (p50, p99) in milliseconds.
fn percentiles(mut lat: Vec<Duration>) -> (f64, f64) {
    lat.sort_unstable();
    let at = |q: f64| lat[((lat.len() - 1) as f64 * q).round() as usize].as_secs_f64() * 1e3;
    (at(0.50), at(0.99))
}

/// Run `jobs` (one list of requests per client thread) against `url` on
/// `threads` threads, all starting together; each request is one call of
/// `send`, which must succeed. Returns (requests/s, p50 ms, p99 ms).
fn drive<J: Send + 'static>(
    jobs: Vec<Vec<J>>,
    send: impl Fn(&ureq::Agent, &J) + Send + Sync + Copy + 'static,
) -> (f64, f64, f64) {
    let total: usize = jobs.iter().map(Vec::len).sum();
    let start = Arc::new(Barrier::new(jobs.len() + 1));
    let handles: Vec<_> = jobs
        .into_iter()
        .map(|list| {
            let start = start.clone();
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().max_idle_connections_per_host(1).build();
                start.wait();
                let mut lat = Vec::with_capacity(list.len());
                for job in &list {
                    let t = Instant::now();
                    send(&agent, job);
                    lat.push(t.elapsed());
                }
                lat
            })
        })
        .collect();
    start.wait();
    let t = Instant::now();
    let mut lat = Vec::with_capacity(total);
    for h in handles {
        lat.extend(h.join().expect("client thread"));
    }
    let rate = total as f64 / t.elapsed().as_secs_f64();
    let (p50, p99) = percentiles(lat);
    (rate, p50, p99)
}

/// `n` items dealt round-robin to `threads` lists.
fn deal<J>(items: impl IntoIterator<Item = J>, threads: usize) -> Vec<Vec<J>> {
    let mut out: Vec<Vec<J>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, it) in items.into_iter().enumerate() {
        out[i % threads].push(it);
    }
    out
}

fn get_ok(agent: &ureq::Agent, url: &str) {
    let r = agent.get(url).call().unwrap_or_else(|e| panic!("GET {url}: {e}"));
    std::hint::black_box(r.into_string().expect("body"));
}

fn main() {
    let queries = env("PIL_BENCH_HTTP_QUERIES", 20_000);
    let submits = env("PIL_BENCH_HTTP_SUBMITS", 10_000);
    let clients = env("PIL_BENCH_HTTP_CLIENTS", 128);
    let readers = env("PIL_BENCH_HTTP_READERS", 16);

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let l = Ledger::init(&data, "bench.example/http", "Officer", "Unit").unwrap();
    let officer = ledger::read_key_file(&l.paths().officer_key()).unwrap();
    let pros = pil_ledger_core::keys::generate();
    l.append_signed(&officer, "", Body::enrol(pros.verifying_key().to_bytes(), "Li Si", "U", vec![Role::Prosecutor]))
        .unwrap();
    let origin = l.origin().to_string();
    l.close();

    // The server, as `serve --public-read` builds it, in this process.
    let ledger = Ledger::open(&data, true).unwrap();
    let tokens = auth::Tokens::new(&data).unwrap();
    let shared = Arc::new(Shared { ledger, tokens, public_read: true, limits: Limits::default() });
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let (api, stat) = rt.block_on(async {
        let api = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stat = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        (api, stat)
    });
    let api_url = format!("http://{}", api.local_addr().unwrap());
    let static_url = format!("http://{}/static", stat.local_addr().unwrap());
    let app = server::router(AppState(shared.clone()));
    rt.spawn(async move { axum::serve(api, app).await.unwrap() });
    let tiny = axum::Router::new().route("/static", axum::routing::get(|| async { "ok" }));
    rt.spawn(async move { axum::serve(stat, tiny).await.unwrap() });

    // Baseline: pre-signed statements straight into the same ledger's writer.
    let sign = |prefix: &str| -> Vec<(Vec<u8>, [u8; 64])> {
        (0..submits)
            .map(|i| {
                let body = Body::CaseOpened { title: format!("case {i}"), area: "a".into(), unit: "u".into() };
                ledger::sign_statement(&origin, &pros, &format!("{prefix}-{i}"), body)
            })
            .collect()
    };
    let plain = sign("BASE");
    let t = Instant::now();
    let acks = submit_all(&shared.ledger, plain).unwrap_or_else(|f| panic!("{}", f.message));
    assert!(acks.iter().all(Result::is_ok));
    let direct = submits as f64 / t.elapsed().as_secs_f64();

    // Submissions over HTTP: the same kind of statements, pre-signed and
    // pre-encoded, one POST each.
    let bodies: Vec<String> = sign("HTTP")
        .into_iter()
        .map(|(st, sig)| serde_json::json!({"statement": hex::encode(st), "signature": hex::encode(sig)}).to_string())
        .collect();
    let post_url: &'static str = Box::leak(format!("{api_url}/v1/statements").into_boxed_str());
    let (http, p50, p99) = drive(deal(bodies, clients), move |a, body: &String| {
        let r = a
            .post(post_url)
            .set("content-type", "application/json")
            .send_string(body)
            .unwrap_or_else(|e| panic!("POST /v1/statements: {e}"));
        assert_eq!(r.status(), 201, "a fresh statement is acked with 201");
        std::hint::black_box(r.into_string().expect("ack"));
    });
    eprintln!(
        "http submissions: {submits} from {clients} clients = {http:.0}/s (ack p50 {p50:.2} ms, p99 {p99:.2} ms); direct pre-signed appends through the writer in the same run = {direct:.0}/s; ratio {:.2}x (goal >= 0.7x)",
        http / direct
    );

    // Proof queries over the log just written, beside the static route.
    let size = shared.ledger.head().unwrap().size;
    let static_url: &'static str = Box::leak(static_url.into_boxed_str());
    let (stat_rate, s50, s99) = drive(deal(0..queries, readers), move |a, _: &usize| get_ok(a, static_url));
    let proof_urls = (0..queries as u64).map(|i| format!("{api_url}/v1/proofs/inclusion/{}", (i * 7_919) % size));
    let (proof_rate, q50, q99) = drive(deal(proof_urls, readers), |a, url: &String| get_ok(a, url));
    eprintln!(
        "proof queries: {queries} inclusion proofs (tree of {size}) from {readers} clients = {proof_rate:.0}/s (p50 {q50:.2} ms, p99 {q99:.2} ms); static axum route, same server runtime, same run = {stat_rate:.0}/s (p50 {s50:.2} ms, p99 {s99:.2} ms); ratio {:.2}x (goal >= 0.5x)",
        proof_rate / stat_rate
    );

    rt.shutdown_timeout(Duration::from_secs(10));
    match Arc::try_unwrap(shared) {
        Ok(s) => s.ledger.close(),
        Err(_) => eprintln!("(a request task outlived the server; the ledger closes on exit)"),
    }
}
