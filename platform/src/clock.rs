//! The kernel's view of clock synchronisation (adjtimex(2)), so the TSA can
//! refuse to time-stamp rather than state a time it cannot vouch for.

/// Wall-clock time as Unix seconds: the one place services read it (cores
/// take `now` as an argument).
pub fn unix_seconds() -> i64 {
    unix_micros().div_euclid(1_000_000)
}

/// Wall-clock time as Unix microseconds.
pub fn unix_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// What the kernel says about the system clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockSync {
    /// False when the kernel reports STA_UNSYNC or TIME_ERROR.
    pub synchronized: bool,
    /// The kernel's maximum error estimate, in microseconds.
    pub max_error_us: i64,
}

impl ClockSync {
    /// Whether the clock is synchronised within `accuracy_us`.
    pub fn within(&self, accuracy_us: i64) -> bool {
        self.synchronized && self.max_error_us <= accuracy_us
    }
}

/// Reads the kernel's synchronisation state; `None` if the call fails.
pub fn kernel_sync() -> Option<ClockSync> {
    // SAFETY: `timex` is plain data; zeroed with `modes = 0` it asks adjtimex
    // to read only. The kernel writes within the struct we own and pass by
    // pointer for the duration of the call.
    let mut tx: libc::timex = unsafe { std::mem::zeroed() };
    // SAFETY: see above; `tx` is a valid, exclusively borrowed timex.
    let state = unsafe { libc::adjtimex(&mut tx) };
    if state < 0 {
        return None;
    }
    let unsync = tx.status & libc::STA_UNSYNC != 0 || state == libc::TIME_ERROR;
    Some(ClockSync { synchronized: !unsync, max_error_us: tx.maxerror })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kernel_state() {
        let sync = kernel_sync().expect("adjtimex works on Linux");
        assert!(sync.max_error_us >= 0);
        // Unsynchronised never counts as within any accuracy.
        let unsync = ClockSync { synchronized: false, max_error_us: 0 };
        assert!(!unsync.within(1_000_000));
        assert!(ClockSync { synchronized: true, max_error_us: 5 }.within(10));
    }
}
