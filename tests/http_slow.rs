//! Slow clients through the real binary and a raw socket: a streamed file
//! that dribbles in is cut off (408) once the whole-request time has passed
//! at under the minimum average rate, even though its chunks keep coming
//! within the idle time; a JSON body announced over the limit is refused
//! (413) at once, not after waiting for it.

mod common;
mod http_support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use http_support::*;
use serde_json::Value;

/// The head of a POST announcing `len` bytes, and the open socket.
fn post_head(base: &str, path: &str, len: usize) -> TcpStream {
    let addr = base.trim_start_matches("http://");
    let mut c = TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/octet-stream\r\nContent-Length: {len}\r\n\r\n"
    );
    c.write_all(head.as_bytes()).unwrap();
    c
}

/// Status and body of the answer (read until its Content-Length is in).
fn read_response(c: &mut TcpStream) -> (u16, Value) {
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = c.read(&mut chunk).unwrap_or_else(|e| panic!("reading the response: {e}"));
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf);
        if let Some(i) = text.find("\r\n\r\n") {
            let len = text[..i]
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0usize);
            if buf.len() >= i + 4 + len {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf).into_owned();
    let status = text.split(' ').nth(1).unwrap().parse().unwrap();
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    (status, serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {text}")))
}

#[test]
fn a_dribbling_upload_times_out_and_an_announced_oversize_body_is_refused_at_once() {
    let e = common::Env::new();
    e.init();
    let env = [("PIL_HTTP_TIMEOUT_MS", "2000"), ("PIL_HTTP_BODY_IDLE_MS", "10000")];
    let s = Server::start(&e, &[], &env);

    // (a) A few bytes every 100 ms: never idle for 10 s, but far under
    // 64 KiB/s, so 408 once the 2 s have passed.
    let mut c = post_head(&s.base, "/v1/verify/file", 1_000_000);
    let t0 = Instant::now();
    let mut w = c.try_clone().unwrap();
    let dribble = std::thread::spawn(move || {
        for _ in 0..150 {
            if w.write_all(b"0123456789").is_err() {
                break; // the server has answered and closed
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    let (status, v) = read_response(&mut c);
    let took = t0.elapsed();
    assert_eq!((status, v["error"]["code"].as_str()), (408, Some("request_timeout")), "{v}");
    assert!(took >= Duration::from_millis(1900) && took < Duration::from_secs(6), "{took:?}");
    drop(c);
    dribble.join().unwrap();

    // (b) A JSON body announced at 400 000 bytes (the limit is 256 KiB),
    // sent slowly: 413 at once, not 408 after the timeout.
    let mut c = post_head(&s.base, "/v1/statements", 400_000);
    c.write_all(b"{\"statement\":\"").unwrap();
    let t0 = Instant::now();
    let (status, v) = read_response(&mut c);
    assert_eq!((status, v["error"]["code"].as_str()), (413, Some("body_too_large")), "{v}");
    assert!(t0.elapsed() < Duration::from_millis(1000), "{:?}", t0.elapsed());

    // The server still answers.
    assert_eq!(get(&agent(), &s.url("/v1/checkpoint"), None).status, 200);
}
