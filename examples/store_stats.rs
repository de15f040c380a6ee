//! Live records of a store by kind: count, key bytes, value bytes, beside
//! sled's size on disk. `cargo run --release --example store_stats -- DATA`
use pil_ledger::store::{SledStore, Store};
use std::collections::BTreeMap;

fn main() {
    let data = std::env::args().nth(1).expect("usage: store_stats DATA");
    let st = SledStore::open_read_only(&std::path::Path::new(&data).join("ledger")).expect("open");
    let mut by: BTreeMap<String, (u64, u64, u64)> = BTreeMap::new();
    for r in st.raw_scan() {
        let (k, v) = r.expect("scan");
        let kind = match k.first() {
            Some(b'I') if k.len() > 1 => format!("I{}", k[1]),
            Some(p) => (*p as char).to_string(),
            None => "?".into(),
        };
        let e = by.entry(kind).or_default();
        e.0 += 1;
        e.1 += k.len() as u64;
        e.2 += v.len() as u64;
    }
    let entries = st.head().expect("head").map_or(0, |h| h.size);
    let (mut keys, mut bytes) = (0, 0);
    for (kind, (n, kb, vb)) in &by {
        println!("{kind:>4} {n:>10} records {kb:>12} key bytes {vb:>12} value bytes");
        keys += n;
        bytes += kb + vb;
    }
    let disk = st.disk_bytes().expect("disk");
    println!(
        "sled space_amplification (physical / logical pages): {:.2}",
        st.raw().space_amplification().expect("amp")
    );
    println!(
        "entries {entries}; {keys} records, {bytes} live bytes ({:.1}/entry); sled on disk {disk} ({:.1}/entry)",
        bytes as f64 / entries.max(1) as f64,
        disk as f64 / entries.max(1) as f64
    );
}
