//! Format 2's bundles and tiles as `SledStore` reads and extends them
//! (`schema/storage.md` §2.1).

use pil_ledger_core::hash;
use pil_ledger_core::merkle::{self, Blake3Tree};
use pil_ledger_core::wire::Hash32;

use super::super::layout::{self, bundle_key, decode_bundle, tile_key, tile_of, Tile};
use super::super::{Store, StoreError};
use super::{be, corrupt_bundle, corrupt_tile, SledStore, Tiles};

impl SledStore {
    /// The bundle holding `seq` (format 2): the last bundle starting at or
    /// before it. The caller checks that `seq` is inside it.
    pub(super) fn bundle_at(&self, seq: u64) -> Result<Option<(u64, sled::IVec)>, StoreError> {
        let Some(r) = self.engine.get()?.range(bundle_key(0)..=bundle_key(seq)).next_back() else { return Ok(None) };
        let (k, v) = r?;
        Ok(Some((be(&k[1..])?, v)))
    }

    pub(super) fn tile(&self, stratum: u8, tile: u64) -> Result<Option<Tile>, StoreError> {
        let Some(v) = self.engine.get()?.get(tile_key(stratum, tile))? else { return Ok(None) };
        Tile::decode(&v).map(Some).map_err(|e| corrupt_tile(stratum, tile, e))
    }

    /// The tiles a commit's new nodes extend, read from the store and
    /// extended in order. Every node must extend its row (asserted before
    /// writing; anything else is a bug or a damaged tile, and is refused).
    pub(super) fn extend_tiles(&self, nodes: &[(u8, u64, Hash32)]) -> Result<Tiles, StoreError> {
        let mut tiles = std::collections::BTreeMap::new();
        let mut sorted: Vec<_> = nodes.to_vec();
        sorted.sort_by_key(|&(level, index, _)| (level, index));
        let unfinished = self.unfinished.lock().expect("poisoned").clone();
        for (level, index, h) in sorted {
            let (stratum, tile, row, pos) = tile_of(level, index);
            let t = match tiles.entry((stratum, tile)) {
                std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    let held = unfinished.as_ref().filter(|(k, _)| stratum == 0 && *k == tile).map(|(_, t)| t.clone());
                    v.insert(match held {
                        Some(t) => t,
                        None => self.tile(stratum, tile)?.unwrap_or_default(),
                    })
                }
            };
            t.push(row, pos, h).map_err(|e| corrupt_tile(stratum, tile, e))?;
        }
        for ((stratum, tile), t) in &tiles {
            if !t.is_consistent() {
                return Err(corrupt_tile(*stratum, *tile, "rows do not match the lowest row after the commit".into()));
            }
        }
        Ok(tiles)
    }

    /// Rebuild the unfinished lowest tile from the last entries (format 2):
    /// at most 63 leaf hashes and the complete subtrees over them.
    pub(super) fn rebuild_unfinished(&self) -> Result<(), StoreError> {
        if self.format != 2 {
            return Ok(());
        }
        let last = self.engine.get()?.scan_prefix(b"B").rev().find(|r| r.as_ref().map_or(true, |(k, _)| k.len() == 9));
        let Some(r) = last else { return Ok(()) };
        let (k, v) = r?;
        let first = be(&k[1..])?;
        let n = decode_bundle(&v).map_err(|e| corrupt_bundle(first, e))?.len() as u64;
        let size = first.checked_add(n).ok_or_else(|| corrupt_bundle(first, "seq overflows".into()))?;
        let tile = size / layout::TILE_WIDTH;
        if size % layout::TILE_WIDTH == 0 {
            *self.unfinished.lock().expect("poisoned") = None;
            return Ok(());
        }
        let mut t = Tile::default();
        let start = tile * layout::TILE_WIDTH;
        for r in self.entries(start, size) {
            let (seq, bytes) = r?;
            let nodes = merkle::append_nodes(&Blake3Tree, &t.source(tile), seq, hash::entry_hash(&bytes))
                .map_err(|e| corrupt_tile(0, tile, e.to_string()))?;
            for (level, index, h) in nodes {
                let (_, _, row, pos) = tile_of(level, index);
                t.push(row, pos, h).map_err(|e| corrupt_tile(0, tile, e))?;
            }
        }
        if t.width() != size - start || !t.is_consistent() {
            return Err(corrupt_tile(0, tile, format!("entries {start}..{size} are not all stored")));
        }
        *self.unfinished.lock().expect("poisoned") = Some((tile, t));
        Ok(())
    }
}
