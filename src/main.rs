/// mimalloc instead of glibc's malloc: sled allocates and frees a buffer for
/// every page it reads or writes, and `verify` builds and drops millions of
/// small index records; glibc's allocator took 6% of `verify`'s CPU and a
/// visible share of the writer's (profiles in `schema/storage.md` §3.1, §7).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[cfg(target_os = "linux")]
extern "C" {
    fn signal(signum: i32, handler: usize) -> usize;
}

fn main() -> std::process::ExitCode {
    // Rust ignores SIGPIPE, so a write to a closed pipe (`... | head -1`)
    // fails with EPIPE and `println!` panics. Restore the default action so
    // the process ends quietly on it, like other Unix tools.
    #[cfg(target_os = "linux")]
    {
        const SIGPIPE: i32 = 13;
        const SIG_DFL: usize = 0;
        // SAFETY: `signal` is the C library's; SIGPIPE and SIG_DFL are the
        // Linux values; this runs first in `main`, before any thread exists,
        // and SIG_DFL installs no handler code of ours.
        unsafe {
            signal(SIGPIPE, SIG_DFL);
        }
    }
    pil_ledger::cli::main()
}
