//! The first writable open of a ledger, timed: what a restart pays (sled's
//! recovery, our self-check, the acknowledged-checkpoint check), e.g. right
//! after a `kill -9` of its writer. `cargo run --release --example open_time -- DATA`
use pil_ledger::ledger::Ledger;

/// The binary's allocator (src/main.rs), so the figure is the binary's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let data = std::env::args().nth(1).expect("usage: open_time DATA");
    let t = std::time::Instant::now();
    let l = Ledger::open(std::path::Path::new(&data), true).expect("open");
    let open = t.elapsed();
    let size = l.head().expect("head").size;
    println!("first writable open: {:.1} ms, {size} entries", open.as_secs_f64() * 1e3);
}
