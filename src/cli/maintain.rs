//! The operator's maintenance commands: `reindex` and `migrate`.

use std::path::Path;

use serde_json::json;

use super::output::progress_bar;
use super::Failure;
use crate::ledger::Ledger;

/// `reindex`: drop and rebuild every derived index from the log.
pub(super) fn reindex(data: &Path, json: bool) -> Result<u8, Failure> {
    let l = Ledger::open_for_reindex(data)?;
    let size = l.head()?.size;
    let pb = progress_bar(size, "reindex");
    let n = l.reindex(&|done, _| pb.set_position(done))?;
    pb.finish_and_clear();
    if json {
        println!("{}", json!({"reindexed_records": n, "entries": size}));
    } else {
        println!("rebuilt {n} index records from {size} entries");
    }
    Ok(0)
}

/// `migrate`: convert the store to this build's storage format (`src/migrate.rs`).
pub(super) fn migrate(data: &Path, json: bool) -> Result<u8, Failure> {
    let pb = progress_bar(0, "migrate");
    let r = crate::migrate::run(data, &|done, total| {
        pb.set_length(total);
        pb.set_position(done)
    })?;
    pb.finish_and_clear();
    if json {
        println!("{}", serde_json::to_value(&r).expect("report serialises"));
    } else if r.converted {
        println!(
            "converted the ledger at {} from storage format {} to {}: {} entries, {} records copied; \
             the converted store verified {} (root {}); on disk {} -> {} bytes",
            data.display(),
            r.from_format,
            r.to_format,
            r.entries,
            r.records_copied,
            r.verdict,
            r.root,
            r.bytes_before,
            r.bytes_after
        );
    } else {
        println!("the ledger at {} is already in storage format {}; nothing changed", data.display(), r.to_format);
    }
    Ok(0)
}
