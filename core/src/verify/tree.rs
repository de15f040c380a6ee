//! The verifier's Merkle tree in bounded memory (`schema/storage.md` §7.1):
//! nodes at level 8 and above in memory, the leaves of complete 256-leaf
//! tiles in memory up to a limit and then in a temporary file, and any node
//! below level 8 recomputed from its tile's leaves.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;

use crate::merkle::{self, Blake3Tree, MemTree, NodeSource, ProofError};
use crate::wire::Hash32;

/// Leaves per tile, and the level of a tile's root.
const TILE: usize = 256;
const TILE_LEVEL: u8 = 8;
const TILE_BYTES: usize = TILE * 32;

enum Leaves {
    Mem(Vec<Hash32>),
    /// The file, and how many tiles it holds.
    File(File, u64),
    /// A write to the file failed: the leaves are not all there.
    Lost,
}

pub struct SpillTree {
    hasher: Blake3Tree,
    /// The tree over the tiles' roots: its node `(l, i)` is `(l + 8, i)`.
    upper: MemTree<Blake3Tree>,
    /// Leaves of the unfinished tile (fewer than 256).
    tail: Vec<Hash32>,
    /// Leaves of the complete tiles.
    leaves: Leaves,
    /// Leaves kept in memory before they go to a file (if `dir` is set).
    mem_leaves: usize,
    dir: Option<PathBuf>,
    /// The last tile rebuilt: `(tile, leaves, tree)`.
    cache: RefCell<Option<(u64, usize, MemTree<Blake3Tree>)>>,
    error: RefCell<Option<String>>,
    degraded: Option<String>,
}

impl SpillTree {
    /// A tree that moves its leaves to a file in `dir` past `mem_leaves`.
    pub fn new(dir: Option<PathBuf>, mem_leaves: usize) -> Self {
        SpillTree {
            hasher: Blake3Tree,
            upper: MemTree::new(Blake3Tree),
            tail: Vec::with_capacity(TILE),
            leaves: Leaves::Mem(Vec::new()),
            mem_leaves,
            dir,
            cache: RefCell::new(None),
            error: RefCell::new(None),
            degraded: None,
        }
    }

    pub fn size(&self) -> u64 {
        self.upper.size() * TILE as u64 + self.tail.len() as u64
    }

    pub fn push(&mut self, leaf: Hash32) {
        self.tail.push(leaf);
        if self.tail.len() < TILE {
            return;
        }
        let tile = tile_tree(&self.tail);
        self.upper.push(tile.get(TILE_LEVEL, 0).expect("a full tile has a root"));
        let tail = std::mem::replace(&mut self.tail, Vec::with_capacity(TILE));
        self.store_tile(tail);
    }

    fn store_tile(&mut self, tile: Vec<Hash32>) {
        match &mut self.leaves {
            Leaves::Mem(v) => {
                v.extend_from_slice(&tile);
                if v.len() >= self.mem_leaves && self.dir.is_some() {
                    self.move_to_file();
                }
            }
            Leaves::File(f, tiles) => {
                let at = *tiles * TILE_BYTES as u64;
                match f.write_all_at(tile.as_flattened(), at) {
                    Ok(()) => *tiles += 1,
                    Err(e) => {
                        self.error.borrow_mut().get_or_insert(format!("verify's spill file: {e}"));
                        self.leaves = Leaves::Lost;
                    }
                }
            }
            // After a failed write no tile below level 8 is given at all
            // (never one computed from the wrong leaves); the error stops
            // the caller from giving a verdict.
            Leaves::Lost => {}
        }
    }

    /// Move the leaves in memory to a file; if that fails they stay.
    fn move_to_file(&mut self) {
        let (Some(dir), Leaves::Mem(v)) = (&self.dir, &self.leaves) else { return };
        let made = tempfile::tempfile_in(dir).and_then(|f| f.write_all_at(v.as_flattened(), 0).map(|()| f));
        match made {
            Ok(f) => self.leaves = Leaves::File(f, (v.len() / TILE) as u64),
            Err(e) => {
                self.degraded = Some(format!("could not write a spill file in {}: {e}", dir.display()));
                self.dir = None;
            }
        }
    }

    pub fn error(&self) -> Option<String> {
        self.error.borrow().clone()
    }

    pub fn degraded(&self) -> Option<&str> {
        self.degraded.as_deref()
    }

    /// The leaves of complete tile `t`.
    fn tile_leaves(&self, t: u64) -> Option<Vec<Hash32>> {
        match &self.leaves {
            Leaves::Mem(v) => {
                let at = usize::try_from(t).ok()?.checked_mul(TILE)?;
                v.get(at..at + TILE).map(<[Hash32]>::to_vec)
            }
            Leaves::File(f, _) => {
                let mut buf = vec![0u8; TILE_BYTES];
                if let Err(e) = f.read_exact_at(&mut buf, t * TILE_BYTES as u64) {
                    self.error.borrow_mut().get_or_insert(format!("verify's spill file: {e}"));
                    return None;
                }
                Some(buf.chunks_exact(32).map(|c| c.try_into().expect("32 bytes")).collect())
            }
            Leaves::Lost => None,
        }
    }

    /// The complete node `(level, index)`, if the tree has it.
    pub fn get(&self, level: u8, index: u64) -> Option<Hash32> {
        if level >= TILE_LEVEL {
            return self.upper.get(level - TILE_LEVEL, index);
        }
        let shift = TILE_LEVEL - level;
        let (t, within) = (index >> shift, index & ((1 << shift) - 1));
        let complete = self.upper.size();
        let leaves = match t.cmp(&complete) {
            std::cmp::Ordering::Less => TILE,
            std::cmp::Ordering::Equal => self.tail.len(),
            std::cmp::Ordering::Greater => return None,
        };
        if (within + 1) << level > leaves as u64 {
            return None;
        }
        let mut cache = self.cache.borrow_mut();
        if !cache.as_ref().is_some_and(|(ct, cl, _)| *ct == t && *cl == leaves) {
            let tree = if t < complete { tile_tree(&self.tile_leaves(t)?) } else { tile_tree(&self.tail) };
            *cache = Some((t, leaves, tree));
        }
        cache.as_ref().and_then(|(_, _, tree)| tree.get(level, within))
    }

    pub fn root(&self) -> Hash32 {
        merkle::root(&self.hasher, self, self.size()).unwrap_or_default()
    }

    pub fn root_at(&self, size: u64) -> Result<Hash32, ProofError> {
        if size > self.size() {
            return Err(ProofError::SizeOrder { old: size, new: self.size() });
        }
        merkle::root(&self.hasher, self, size)
    }
}

fn tile_tree(leaves: &[Hash32]) -> MemTree<Blake3Tree> {
    let mut t = MemTree::new(Blake3Tree);
    for l in leaves {
        t.push(*l);
    }
    t
}

impl NodeSource for SpillTree {
    fn node(&self, level: u8, index: u64) -> Result<Hash32, ProofError> {
        self.get(level, index).ok_or(ProofError::MissingNode { level, index })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaf(i: u64) -> Hash32 {
        *blake3::hash(&i.to_le_bytes()).as_bytes()
    }

    /// Every node and every root against `MemTree`, with the leaves in
    /// memory and in a file.
    #[test]
    fn matches_the_memory_tree_in_memory_and_on_file() {
        let dir = tempfile::tempdir().unwrap();
        for (mem_leaves, spill) in [(usize::MAX, None), (512, Some(dir.path().to_path_buf()))] {
            let mut t = SpillTree::new(spill, mem_leaves);
            let mut want = MemTree::new(Blake3Tree);
            for n in 0..1300u64 {
                t.push(leaf(n));
                want.push(leaf(n));
                if n % 97 == 0 || n == 1299 {
                    assert_eq!(t.size(), want.size());
                    assert_eq!(t.root(), want.root());
                }
            }
            for level in 0..12u8 {
                for i in 0..(1300u64 >> level) + 2 {
                    assert_eq!(t.get(level, i), want.get(level, i), "node ({level}, {i})");
                }
            }
            for size in [0, 1, 255, 256, 257, 511, 512, 513, 1024, 1299, 1300] {
                assert_eq!(t.root_at(size).unwrap(), want.root_at(size).unwrap(), "root at {size}");
            }
            assert!(t.root_at(1301).is_err());
            assert!(t.error().is_none() && t.degraded().is_none());
        }
    }
}
