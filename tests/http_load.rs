//! The HTTP API under load, at its limits and at shutdown, through the real
//! binary: 200 concurrent submitters get distinct, contiguous seqs (none
//! lost, none twice); SIGTERM under load loses no acknowledged entry; slow
//! bodies time out (408); a full server sheds load (503 + Retry-After).

mod common;
mod http_support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_support::*;
use serde_json::Value;

/// Submit one hand-built, signed `CaseOpened`; retries the same bytes on
/// 503 (idempotent). The ack.
fn open_case(a: &ureq::Agent, url: &str, key: &ed25519_dalek::SigningKey, case: &str) -> Value {
    let st =
        statement(ORIGIN, key.verifying_key().as_bytes(), random_nonce(), case, &case_opened(case, "ecology", "u"));
    let body = submission(&st, &sign(key, &st));
    for _ in 0..100 {
        let r = post_json(a, url, &body);
        match r.status {
            201 => return r.json(),
            503 => std::thread::sleep(Duration::from_millis(50)),
            _ => panic!("{case}: {} {}", r.status, r.body),
        }
    }
    panic!("{case}: still overloaded")
}

#[test]
fn two_hundred_concurrent_submitters_get_distinct_contiguous_acks() {
    let (e, pros) = ledger_with_prosecutor();
    let s = Server::start(&e, &["--public-read"], &[]);
    let url = s.url("/v1/statements");
    let a = agent();
    let acks = Arc::new(Mutex::new(Vec::new()));
    let threads: Vec<_> = (0..200)
        .map(|i| {
            let (a, url, pros, acks) = (a.clone(), url.clone(), pros.clone(), acks.clone());
            std::thread::spawn(move || {
                let ack = open_case(&a, &url, &pros, &format!("C-{i}"));
                acks.lock().unwrap().push((ack["seq"].as_u64().unwrap(), ack["hash"].as_str().unwrap().to_string()));
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let acks = acks.lock().unwrap().clone();
    let seqs: BTreeSet<u64> = acks.iter().map(|(s, _)| *s).collect();
    assert_eq!(seqs.len(), 200, "no seq acknowledged twice");
    // genesis (0) and the enrolment (1) came first
    assert_eq!(seqs.iter().copied().collect::<Vec<_>>(), (2..202).collect::<Vec<_>>(), "no gap");
    let page = get(&a, &s.url("/v1/entries?from=2&to=201"), None).json();
    let stored: BTreeMap<u64, String> = page
        .as_array()
        .unwrap()
        .iter()
        .map(|v| (v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().to_string()))
        .collect();
    for (seq, hash) in &acks {
        assert_eq!(stored.get(seq), Some(hash), "seq {seq}");
    }
}

#[test]
fn sigterm_under_load_loses_no_acknowledged_entry() {
    let (e, pros) = ledger_with_prosecutor();
    let mut s = Server::start(&e, &[], &[]);
    let url = s.url("/v1/statements");
    let acked = Arc::new(Mutex::new(Vec::<(u64, String)>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let threads: Vec<_> = (0..16)
        .map(|t| {
            let (url, pros, acked, stop) = (url.clone(), pros.clone(), acked.clone(), stop.clone());
            std::thread::spawn(move || {
                let a = agent();
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let case = format!("T{t}-{i}");
                    let st = statement(
                        ORIGIN,
                        pros.verifying_key().as_bytes(),
                        random_nonce(),
                        &case,
                        &case_opened(&case, "ecology", "u"),
                    );
                    match try_call(
                        &a,
                        "POST",
                        &url,
                        None,
                        Some(submission(&st, &sign(&pros, &st)).to_string().as_bytes()),
                    ) {
                        Ok(r) if r.status == 201 => {
                            let v = r.json();
                            acked
                                .lock()
                                .unwrap()
                                .push((v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().into()));
                        }
                        Ok(r) => assert!(r.status == 503, "{} {}", r.status, r.body),
                        Err(_) => break, // the server has stopped listening
                    }
                }
            })
        })
        .collect();
    let t0 = Instant::now();
    while acked.lock().unwrap().len() < 50 && t0.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.terminate(), 0, "serve exits cleanly on SIGTERM");
    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= 50, "only {} acks before SIGTERM", acked.len());

    // Reopen: every acknowledged entry is there, with its hash.
    let out = e.run(&["entries"]).ok().stdout;
    let stored: BTreeMap<u64, String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|v| (v["seq"].as_u64().unwrap(), v["hash"].as_str().unwrap().to_string()))
        .collect();
    for (seq, hash) in &acked {
        assert_eq!(stored.get(seq), Some(hash), "acknowledged seq {seq} lost");
    }
    let r = e.run(&["--json", "verify"]);
    assert_eq!(r.code, 0, "{} {}", r.stdout, r.stderr);
}

/// Send a request whose body never completes; returns the open socket.
fn slow_post(base: &str, path: &str, content_type: &str) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut c = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: {content_type}\r\nContent-Length: 100000\r\n\r\n{{\"statement\":"
    );
    c.write_all(head.as_bytes()).unwrap();
    c
}

fn read_response(mut c: TcpStream) -> (u16, String) {
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match c.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf);
                if let Some(i) = text.find("\r\n\r\n") {
                    let len = text[..i]
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap())
                        })
                        .unwrap_or(0);
                    if buf.len() >= i + 4 + len {
                        break;
                    }
                }
            }
            Err(e) => panic!("reading the response: {e}"),
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
    (status, body)
}

#[test]
fn slow_bodies_time_out_and_a_full_server_sheds_load() {
    let e = common::Env::new();
    e.init();
    let env = [("PIL_HTTP_TIMEOUT_MS", "700"), ("PIL_HTTP_BODY_IDLE_MS", "700"), ("PIL_HTTP_CONCURRENCY", "1")];
    let s = Server::start(&e, &[], &env);
    let a = agent();

    // A JSON body that never arrives in full: the slot is taken meanwhile.
    let slow = slow_post(&s.base, "/v1/statements", "application/json");
    std::thread::sleep(Duration::from_millis(150));
    let r = get(&a, &s.url("/v1/checkpoint"), None);
    assert_eq!((r.status, r.code().as_str()), (503, "overloaded"), "{}", r.body);
    assert_eq!(r.retry_after.as_deref(), Some("1"));
    let (status, body) = read_response(slow);
    assert_eq!(status, 408, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["code"], "request_timeout");
    // The slot is free again.
    assert_eq!(get(&a, &s.url("/v1/checkpoint"), None).status, 200);

    // A streamed file that stops arriving: 408 after the idle time.
    let slow = slow_post(&s.base, "/v1/verify/file", "application/octet-stream");
    let (status, body) = read_response(slow);
    assert_eq!(status, 408, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["error"]["code"], "request_timeout");
    assert_eq!(get(&a, &s.url("/v1/checkpoint"), None).status, 200);

    // A bad limit setting is refused at start.
    let r = e.run_env(&["--json", "serve", "--listen", "127.0.0.1:0"], &[("PIL_HTTP_CONCURRENCY", "0")]);
    assert_eq!((r.code, r.err_json()["error"]["code"].as_str()), (2, Some("invalid_argument")));
}
