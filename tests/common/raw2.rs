//! Raw access to a format-2 store for tamper drills, written from
//! `schema/storage.md` §2 (not from `src/store/layout.rs`): entry bundles
//! (`B` ‖ first seq BE → per entry: u32 LE length, bytes) and hash tiles
//! (`T` ‖ stratum ‖ tile BE → u16 LE width, then 6 rows of hashes, row r
//! holding width >> r of them; a tile covers 6 levels over 64 nodes).

#![allow(dead_code)]

fn bkey(first: u64) -> Vec<u8> {
    let mut k = vec![b'B'];
    k.extend_from_slice(&first.to_be_bytes());
    k
}

fn split(v: &[u8]) -> Vec<Vec<u8>> {
    let (mut out, mut i) = (Vec::new(), 0);
    while i < v.len() {
        let n = u32::from_le_bytes(v[i..i + 4].try_into().unwrap()) as usize;
        out.push(v[i + 4..i + 4 + n].to_vec());
        i += 4 + n;
    }
    out
}

fn join(es: &[Vec<u8>]) -> Vec<u8> {
    es.iter().flat_map(|e| (e.len() as u32).to_le_bytes().into_iter().chain(e.iter().copied())).collect()
}

/// `(first seq, entries)` of the bundle holding `seq`.
fn bundle(db: &sled::Db, seq: u64) -> (u64, Vec<Vec<u8>>) {
    let (k, v) = db.range(bkey(0)..=bkey(seq)).next_back().expect("a bundle at or before seq").unwrap();
    let first = u64::from_be_bytes(k[1..9].try_into().unwrap());
    let es = split(&v);
    assert!(seq < first + es.len() as u64, "seq {seq} lies beyond its bundle");
    (first, es)
}

pub fn get_entry(db: &sled::Db, seq: u64) -> Vec<u8> {
    let (first, es) = bundle(db, seq);
    es[(seq - first) as usize].clone()
}

pub fn put_entry(db: &sled::Db, seq: u64, bytes: Vec<u8>) {
    let (first, mut es) = bundle(db, seq);
    es[(seq - first) as usize] = bytes;
    db.insert(bkey(first), join(&es)).unwrap();
}

/// The raw key and value of the bundle holding `seq`.
pub fn bundle_record(db: &sled::Db, seq: u64) -> (Vec<u8>, Vec<u8>) {
    let (first, es) = bundle(db, seq);
    (bkey(first), join(&es))
}

pub fn last_seq(db: &sled::Db) -> u64 {
    let (k, v) = db.scan_prefix(b"B").last().unwrap().unwrap();
    u64::from_be_bytes(k[1..9].try_into().unwrap()) + split(&v).len() as u64 - 1
}

pub fn remove_all_entries(db: &sled::Db) {
    for k in db.scan_prefix(b"B").keys() {
        db.remove(k.unwrap()).unwrap();
    }
}

pub fn tile_key(stratum: u8, tile: u64) -> Vec<u8> {
    let mut k = vec![b'T', stratum];
    k.extend_from_slice(&tile.to_be_bytes());
    k
}

/// Byte offset of node (level, index) inside its tile's value.
const H: u8 = 6;

fn node_offset(v: &[u8], level: u8, index: u64) -> (Vec<u8>, usize) {
    let (stratum, row) = (level / H, (level % H) as u32);
    let tile = index >> (H as u32 - row);
    let pos = (index & ((1 << (H as u32 - row)) - 1)) as usize;
    let w = u16::from_le_bytes([v[0], v[1]]) as usize;
    let before: usize = (0..row).map(|r| w >> r).sum();
    assert!(pos < w >> row, "node ({level}, {index}) is not in its tile");
    (tile_key(stratum, tile), 2 + 32 * (before + pos))
}

/// Flip one bit of the stored node (level, index).
pub fn flip_node(db: &sled::Db, level: u8, index: u64) {
    let (stratum, row) = (level / H, (level % H) as u32);
    let k = tile_key(stratum, index >> (H as u32 - row));
    let mut v = db.get(&k).unwrap().expect("tile").to_vec();
    let (_, off) = node_offset(&v, level, index);
    v[off] ^= 1;
    db.insert(k, v).unwrap();
}

/// Cut a stored tile down to `width` lowest-row nodes (and the rows above
/// to match): a tile that lost nodes but still decodes.
pub fn truncate_tile(db: &sled::Db, stratum: u8, tile: u64, width: usize) {
    let k = tile_key(stratum, tile);
    let v = db.get(&k).unwrap().expect("tile").to_vec();
    let w = u16::from_le_bytes([v[0], v[1]]) as usize;
    let mut out = (width as u16).to_le_bytes().to_vec();
    let mut at = 2;
    for r in 0..H {
        out.extend_from_slice(&v[at..at + 32 * (width >> r)]);
        at += 32 * (w >> r);
    }
    db.insert(k, out).unwrap();
}

/// Store `nodes` (row by row, lowest first, as `Store::unstored_nodes`
/// lists them) as tile (0, `tile`).
pub fn store_lowest_tile(db: &sled::Db, tile: u64, nodes: &[(u8, u64, [u8; 32])]) {
    let width = nodes.iter().filter(|n| n.0 == 0).count() as u16;
    let mut v = width.to_le_bytes().to_vec();
    for (_, _, h) in nodes {
        v.extend_from_slice(h);
    }
    db.insert(tile_key(0, tile), v).unwrap();
}
