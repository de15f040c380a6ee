//! Keys and records of the two storage formats (`schema/storage.md` §2).
//!
//! Format 2 keeps a group's entries in **entry bundles** (`B`: up to
//! [`BUNDLE_MAX_ENTRIES`] consecutive entries under the first one's seq) and
//! the Merkle tree in **hash tiles** (`T`: the nodes of six consecutive
//! levels over 64 nodes of the lowest, cut as C2SP tlog-tiles and Tessera
//! cut theirs, with every inner level kept so a proof reads one record per
//! six levels). Format 1 (one key per entry `E` and per node `N`) is still read,
//! so a court's old copy verifies without being converted; only format 2 is
//! written (`pil-ledger migrate` converts).

use pil_ledger_core::merkle::{NodeSource, ProofError};
use pil_ledger_core::wire::{Hash32, MAX_ENTRY_BYTES};

/// Levels per tile; a tile of stratum `s` holds levels `6s .. 6s+5`.
///
/// Six, not tlog-tiles' eight: sled 0.34 keeps up to 16 records in a leaf
/// page and writes a page over about 128 KiB (a quarter of its 512 KiB
/// segment) as a separate blob file. With 8 levels (16 KiB tiles) pages of
/// tiles went to blobs, and the power-loss test saw sled's recovery fail
/// twice in 63 cuts (never with format 1's small values, 0 in 30); a tile
/// of 6 levels is 4 KiB, a page of them about 64 KiB.
pub const TILE_HEIGHT: u8 = 6;
/// Nodes of a tile's lowest level.
pub const TILE_WIDTH: u64 = 1 << TILE_HEIGHT;
/// Bytes of a complete tile: the width, then 64 + 32 + … + 2 hashes.
pub const COMPLETE_TILE_BYTES: usize = 2 + 32 * (2 * TILE_WIDTH as usize - 2);
/// Entries per bundle at most.
/// sled 0.34 splits a leaf page at 17 records and rewrites the whole page
/// every 10 updates, so a record's size multiplies into every rewrite of
/// its page; bundles of at most 4 KiB keep a page of them near 64 KiB,
/// below sled's blob threshold (see [`TILE_HEIGHT`]).
pub const BUNDLE_MAX_ENTRIES: usize = 16;
/// A bundle is closed once it holds this many bytes.
pub const BUNDLE_MAX_BYTES: usize = 4 * 1024;

pub fn entry_key(seq: u64) -> [u8; 9] {
    prefixed(b'E', seq)
}

pub fn bundle_key(first: u64) -> [u8; 9] {
    prefixed(b'B', first)
}

pub fn checkpoint_key(size: u64) -> [u8; 9] {
    prefixed(b'C', size)
}

pub fn registry_key(size: u64) -> [u8; 9] {
    prefixed(b'R', size)
}

fn prefixed(p: u8, n: u64) -> [u8; 9] {
    let mut k = [p; 9];
    k[1..].copy_from_slice(&n.to_be_bytes());
    k
}

pub fn node_key(level: u8, index: u64) -> [u8; 10] {
    let mut k = [b'N'; 10];
    k[1] = level;
    k[2..].copy_from_slice(&index.to_be_bytes());
    k
}

pub fn tile_key(stratum: u8, tile: u64) -> [u8; 10] {
    let mut k = [b'T'; 10];
    k[1] = stratum;
    k[2..].copy_from_slice(&tile.to_be_bytes());
    k
}

/// Where node `(level, index)` lives: `(stratum, tile, row, position)`.
pub fn tile_of(level: u8, index: u64) -> (u8, u64, u8, u64) {
    let stratum = level / TILE_HEIGHT;
    let row = level % TILE_HEIGHT;
    let span = u32::from(TILE_HEIGHT - row);
    (stratum, index >> span, row, index & ((1u64 << span) - 1))
}

/// Whether a tile `(stratum, tile)` can exist in any tree of u64 leaves:
/// levels stay below 64 and node indexes inside u64.
pub fn tile_in_range(stratum: u8, tile: u64) -> bool {
    u32::from(stratum) * u32::from(TILE_HEIGHT) < 64 && tile <= u64::MAX >> TILE_HEIGHT
}

/// Bytes of an entry bundle: per entry, its length (u32 LE) then its bytes.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        let n = u32::try_from(e.len()).expect("entry length fits u32");
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(e);
    }
    out
}

/// The entries of a bundle, or why it is malformed: an empty bundle, an
/// empty or over-long entry, more than [`BUNDLE_MAX_ENTRIES`], trailing bytes.
pub fn decode_bundle(b: &[u8]) -> Result<Vec<&[u8]>, String> {
    let mut out = Vec::new();
    let mut rest = b;
    while !rest.is_empty() {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            return Err(format!("{} trailing bytes after entry {}", rest.len(), out.len()));
        };
        let n = u32::from_le_bytes(*len) as usize;
        if n == 0 || n > MAX_ENTRY_BYTES || n > tail.len() {
            return Err(format!("entry {} claims {n} bytes ({} left)", out.len(), tail.len()));
        }
        out.push(&tail[..n]);
        rest = &tail[n..];
    }
    if out.is_empty() || out.len() > BUNDLE_MAX_ENTRIES {
        return Err(format!("{} entries (1 to {BUNDLE_MAX_ENTRIES} allowed)", out.len()));
    }
    Ok(out)
}

/// `(seq, canonical entry bytes)`, as a commit carries them.
pub type SeqEntry = (u64, Vec<u8>);

/// Cut a commit's consecutive entries into bundles: `(first seq, entries)`.
pub fn cut_bundles(entries: &[SeqEntry]) -> Vec<(u64, &[SeqEntry])> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (i, (_, e)) in entries.iter().enumerate() {
        let full = i - start == BUNDLE_MAX_ENTRIES || (i > start && bytes + e.len() > BUNDLE_MAX_BYTES);
        if full {
            out.push((entries[start].0, &entries[start..i]));
            start = i;
            bytes = 0;
        }
        bytes += e.len();
    }
    if start < entries.len() {
        out.push((entries[start].0, &entries[start..]));
    }
    out
}

/// One hash tile: `rows[r]` holds the nodes of level `8·stratum + r` in the
/// tile, left to right; row `r` always has `rows[0].len() >> r` nodes (the
/// complete subtrees over the lowest row).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tile {
    pub rows: [Vec<Hash32>; TILE_HEIGHT as usize],
}

impl Tile {
    /// Lowest-row width.
    pub fn width(&self) -> u64 {
        self.rows[0].len() as u64
    }

    /// Bytes: width (u16 LE, 1..=64), then every row's hashes, lowest first.
    pub fn encode(&self) -> Vec<u8> {
        debug_assert!(self.is_consistent());
        let mut out = Vec::with_capacity(2 + 32 * 2 * self.rows[0].len());
        out.extend_from_slice(&(self.width() as u16).to_le_bytes());
        for row in &self.rows {
            for h in row {
                out.extend_from_slice(h);
            }
        }
        out
    }

    pub fn decode(b: &[u8]) -> Result<Tile, String> {
        let Some((w, mut rest)) = b.split_first_chunk::<2>() else { return Err("shorter than 2 bytes".into()) };
        let w = u64::from(u16::from_le_bytes(*w));
        if w == 0 || w > TILE_WIDTH {
            return Err(format!("width {w} (1 to {TILE_WIDTH} allowed)"));
        }
        let want: u64 = (0..TILE_HEIGHT).map(|r| w >> r).sum();
        if rest.len() as u64 != 32 * want {
            return Err(format!("{} bytes of hashes for width {w}, not {}", rest.len(), 32 * want));
        }
        let mut t = Tile::default();
        for r in 0..TILE_HEIGHT {
            for _ in 0..(w >> r) {
                let (h, tail) = rest.split_first_chunk::<32>().expect("length checked");
                t.rows[r as usize].push(*h);
                rest = tail;
            }
        }
        Ok(t)
    }

    /// Node at `row`, `pos` of an encoded tile, read in place (a proof
    /// needs one hash of a tile, not all of them): `Ok(None)` if the tile
    /// does not have it yet, `Err` if the bytes are not a tile.
    pub fn node_in(b: &[u8], row: u8, pos: u64) -> Result<Option<Hash32>, String> {
        let Some((w, rest)) = b.split_first_chunk::<2>() else { return Err("shorter than 2 bytes".into()) };
        let w = u64::from(u16::from_le_bytes(*w));
        let want: u64 = (0..TILE_HEIGHT).map(|r| w >> r).sum();
        if w == 0 || w > TILE_WIDTH || rest.len() as u64 != 32 * want {
            return Err(format!("{} bytes do not make a tile of width {w}", b.len()));
        }
        if pos >= w >> row {
            return Ok(None);
        }
        let before: u64 = (0..row).map(|r| w >> r).sum();
        let at = usize::try_from(32 * (before + pos)).expect("inside the tile");
        Ok(Some(rest[at..at + 32].try_into().expect("32 bytes")))
    }

    /// Node at `row`, `pos`, if the tile has it.
    pub fn get(&self, row: u8, pos: u64) -> Option<Hash32> {
        self.rows[row as usize].get(usize::try_from(pos).ok()?).copied()
    }

    /// Append a node; nodes arrive left to right, so `pos` must be the row's
    /// next position (asserted before writing: anything else is a bug or a
    /// damaged tile, and is refused).
    pub fn push(&mut self, row: u8, pos: u64, h: Hash32) -> Result<(), String> {
        let r = &mut self.rows[row as usize];
        if pos != r.len() as u64 || pos >= TILE_WIDTH >> row {
            return Err(format!("node at row {row} position {pos} does not extend the tile (row holds {})", r.len()));
        }
        r.push(h);
        Ok(())
    }

    /// Every row holds exactly the complete subtrees of the lowest one.
    pub fn is_consistent(&self) -> bool {
        let w = self.rows[0].len();
        w >= 1 && w as u64 <= TILE_WIDTH && (0..TILE_HEIGHT as usize).all(|r| self.rows[r].len() == w >> r)
    }

    /// The tile as a node source while it is built: the lowest tile `tile`
    /// of stratum 0, answering only its own nodes.
    pub fn source(&self, tile: u64) -> TileSource<'_> {
        TileSource { t: self, tile }
    }

    /// Every node, `(level, index, hash)`, of the tile `(stratum, tile)`,
    /// which must be [`tile_in_range`].
    pub fn nodes(&self, stratum: u8, tile: u64) -> impl Iterator<Item = (u8, u64, Hash32)> + '_ {
        assert!(tile_in_range(stratum, tile), "tile ({stratum}, {tile}) is out of range");
        self.rows.iter().enumerate().flat_map(move |(r, row)| {
            let level = stratum * TILE_HEIGHT + r as u8;
            let first = tile << (TILE_HEIGHT as u32 - r as u32);
            row.iter().enumerate().map(move |(i, h)| (level, first + i as u64, *h))
        })
    }
}

/// See [`Tile::source`].
pub struct TileSource<'a> {
    t: &'a Tile,
    tile: u64,
}

impl NodeSource for TileSource<'_> {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        match tile_of(level, index) {
            (0, tile, row, pos) if tile == self.tile => self.t.get(row, pos),
            _ => None,
        }
        .ok_or(ProofError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_positions_follow_tlog_tiles() {
        // Level 0 index 0..63 is tile (0,0); index 64 starts tile (0,1).
        assert_eq!(tile_of(0, 0), (0, 0, 0, 0));
        assert_eq!(tile_of(0, 63), (0, 0, 0, 63));
        assert_eq!(tile_of(0, 64), (0, 1, 0, 0));
        // Level 5 has 2 nodes per tile; level 6 is stratum 1's lowest row.
        assert_eq!(tile_of(5, 3), (0, 1, 5, 1));
        assert_eq!(tile_of(6, 300), (1, 4, 0, 44));
        assert_eq!(tile_of(63, 0), (10, 0, 3, 0));
        assert!(tile_in_range(10, 0) && !tile_in_range(11, 0));
    }

    #[test]
    fn a_tile_round_trips_and_its_size_follows_its_width() {
        let mut t = Tile::default();
        for i in 0..5u64 {
            t.push(0, i, [i as u8; 32]).unwrap();
        }
        t.push(1, 0, [10; 32]).unwrap();
        t.push(1, 1, [11; 32]).unwrap();
        t.push(2, 0, [20; 32]).unwrap();
        assert!(t.is_consistent());
        let b = t.encode();
        assert_eq!(b.len(), 2 + 32 * (5 + 2 + 1));
        assert_eq!(COMPLETE_TILE_BYTES, 2 + 32 * (64 + 32 + 16 + 8 + 4 + 2));
        assert_eq!(Tile::decode(&b).unwrap(), t);
        for (row, pos, want) in [(0, 4, Some([4; 32])), (1, 1, Some([11; 32])), (2, 0, Some([20; 32])), (2, 1, None)] {
            assert_eq!(Tile::node_in(&b, row, pos).unwrap(), want, "({row}, {pos})");
            assert_eq!(t.get(row, pos), want);
        }
        assert!(Tile::node_in(&b[..b.len() - 1], 0, 0).is_err());
        let got: Vec<_> = t.nodes(1, 3).map(|(l, i, _)| (l, i)).collect();
        assert_eq!(got[0], (6, 192));
        assert_eq!(got[5], (7, 96));
        assert_eq!(got[7], (8, 48));
    }

    #[test]
    fn malformed_tiles_and_out_of_order_nodes_are_refused() {
        assert!(Tile::decode(&[]).is_err());
        assert!(Tile::decode(&[0, 0]).is_err());
        assert!(Tile::decode(&[65, 0]).is_err()); // width 65
        assert!(Tile::decode(&[1, 0]).is_err()); // width 1, no hash
        let mut t = Tile::default();
        assert!(t.push(0, 1, [0; 32]).is_err());
        let mut only_top = Tile::default();
        only_top.push(5, 0, [0; 32]).unwrap();
        assert!(!only_top.is_consistent(), "row 5 holds a node while row 0 is empty");
        t.push(0, 0, [0; 32]).unwrap();
        assert!(t.push(0, 0, [0; 32]).is_err());
    }

    #[test]
    fn bundles_round_trip_and_refuse_damage() {
        let es: Vec<Vec<u8>> = vec![vec![1, 2, 3], vec![4], vec![5; 300]];
        let b = encode_bundle(es.iter().map(|e| e.as_slice()));
        let back: Vec<Vec<u8>> = decode_bundle(&b).unwrap().into_iter().map(<[u8]>::to_vec).collect();
        assert_eq!(back, es);
        assert!(decode_bundle(&[]).is_err());
        assert!(decode_bundle(&b[..b.len() - 1]).is_err());
        assert!(decode_bundle(&[0, 0, 0, 0]).is_err());
        let mut extra = b.clone();
        extra.push(9);
        assert!(decode_bundle(&extra).is_err());
    }

    #[test]
    fn commits_are_cut_by_count_and_by_bytes() {
        let small: Vec<(u64, Vec<u8>)> = (0..34).map(|s| (s + 10, vec![0u8; 10])).collect();
        let cut = cut_bundles(&small);
        assert_eq!(cut.iter().map(|(f, es)| (*f, es.len())).collect::<Vec<_>>(), [(10, 16), (26, 16), (42, 2)]);
        let big: Vec<(u64, Vec<u8>)> = (0..5).map(|s| (s, vec![0u8; 2_000])).collect();
        let cut = cut_bundles(&big);
        assert_eq!(cut.iter().map(|(f, es)| (*f, es.len())).collect::<Vec<_>>(), [(0, 2), (2, 2), (4, 1)]);
        let huge: Vec<(u64, Vec<u8>)> = (0..2).map(|s| (s, vec![0u8; 5_000])).collect();
        assert_eq!(cut_bundles(&huge).len(), 2, "an entry over the byte limit gets a bundle of its own");
    }
}
