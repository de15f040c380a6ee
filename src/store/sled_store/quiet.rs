//! A panic inside sled's recovery as a typed error (`quietly`).

thread_local! {
    /// Set while this thread runs [`quietly`]: its panics are not printed.
    static QUIET: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Run `f`, turning a panic into `Err(its message)`, without printing it.
/// sled 0.34.7's recovery can panic on a store damaged by a power cut
/// (seen under `tests/powerloss.rs`: "tried to serialize Uninitialized");
/// that must be a typed storage error, not a crash.
pub(super) fn quietly<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !QUIET.with(std::cell::Cell::get) {
                previous(info);
            }
        }));
    });
    QUIET.with(|q| q.set(true));
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    QUIET.with(|q| q.set(false));
    r.map_err(|p| {
        p.downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| p.downcast_ref::<String>().cloned())
            .unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A panic inside (as sled 0.34.7's recovery can on a store damaged by
    /// a power cut) becomes an error carrying its message; the thread goes
    /// on, and later panics elsewhere are printed again.
    #[test]
    fn a_panic_inside_quietly_is_an_error_with_its_message() {
        assert_eq!(quietly(|| 7), Ok(7));
        let r: Result<(), String> = quietly(|| panic!("tried to serialize Uninitialized"));
        assert_eq!(r, Err("tried to serialize Uninitialized".to_string()));
        let r: Result<(), String> = quietly(|| panic!("{} {}", "formatted", 2));
        assert_eq!(r, Err("formatted 2".to_string()));
        assert!(!QUIET.with(std::cell::Cell::get));
    }
}
