//! Whether the TSA may state a time, and saying so: the state of the clock
//! as the TSA sees it, logged at start and at every change, exposed as
//! gauges and in `/readyz`. A TSA that refuses every request without a
//! word looks broken; one that says "the kernel reports the clock
//! unsynchronised" tells the operator what to fix.

use cartorio_platform::clock::{self, ClockSync};
use std::sync::atomic::{AtomicU8, Ordering};

/// When the TSA may state a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockPolicy {
    /// Only while the kernel reports the clock synchronised with a maximum
    /// error within `accuracy_us` (the accuracy the tokens state).
    Kernel { accuracy_us: i64 },
    /// Dangerous: trust the system clock whatever the kernel says. For hosts
    /// whose clock is disciplined by means the kernel does not see (a VM
    /// host, PTP) and for tests on unsynchronised machines.
    DangerTrustSystemClock,
}

/// The clock as the TSA sees it now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockState {
    /// Synchronised within the accuracy the tokens state.
    Synchronized { max_error_us: i64 },
    /// Synchronised, but the kernel's maximum error is over that accuracy.
    TooImprecise { max_error_us: i64 },
    /// The kernel reports the clock unsynchronised (STA_UNSYNC or TIME_ERROR).
    Unsynchronized { max_error_us: i64 },
    /// adjtimex(2) failed: nothing vouches for the clock.
    Unreadable,
    /// Not checked: `--danger-tsa-trust-system-clock`.
    Trusted,
}

impl ClockPolicy {
    pub fn new(accuracy_ms: u64, danger_trust_system_clock: bool) -> Self {
        match danger_trust_system_clock {
            true => Self::DangerTrustSystemClock,
            false => Self::Kernel {
                accuracy_us: i64::try_from(accuracy_ms.saturating_mul(1000)).unwrap_or(i64::MAX),
            },
        }
    }

    /// Reads the kernel's state (unless trusting blindly) and judges it.
    pub fn state(self) -> ClockState {
        match self {
            Self::DangerTrustSystemClock => ClockState::Trusted,
            Self::Kernel { accuracy_us } => ClockState::judge(clock::kernel_sync(), accuracy_us),
        }
    }
}

impl ClockState {
    /// The state `sync` (what adjtimex said) puts a TSA stating
    /// `accuracy_us` in.
    pub fn judge(sync: Option<ClockSync>, accuracy_us: i64) -> Self {
        match sync {
            None => Self::Unreadable,
            Some(s) if !s.synchronized => Self::Unsynchronized { max_error_us: s.max_error_us },
            Some(s) if s.within(accuracy_us) => Self::Synchronized { max_error_us: s.max_error_us },
            Some(s) => Self::TooImprecise { max_error_us: s.max_error_us },
        }
    }

    /// Whether time-stamps are issued in this state.
    pub fn issuing(self) -> bool {
        matches!(self, Self::Synchronized { .. } | Self::Trusted)
    }

    /// A fixed label (logs, `/readyz`).
    pub fn label(self) -> &'static str {
        match self {
            Self::Synchronized { .. } => "synchronized",
            Self::TooImprecise { .. } => "too_imprecise",
            Self::Unsynchronized { .. } => "unsynchronized",
            Self::Unreadable => "unreadable",
            Self::Trusted => "trusted_without_check",
        }
    }

    fn code(self) -> u8 {
        match self {
            Self::Synchronized { .. } => 1,
            Self::TooImprecise { .. } => 2,
            Self::Unsynchronized { .. } => 3,
            Self::Unreadable => 4,
            Self::Trusted => 5,
        }
    }

    pub fn max_error_us(self) -> Option<i64> {
        match self {
            Self::Synchronized { max_error_us }
            | Self::TooImprecise { max_error_us }
            | Self::Unsynchronized { max_error_us } => Some(max_error_us),
            Self::Unreadable | Self::Trusted => None,
        }
    }

    /// What the TSA does in this state and why, in one sentence for an
    /// operator, with the way out.
    pub fn describe(self, policy: ClockPolicy) -> String {
        let accuracy_ms = match policy {
            ClockPolicy::Kernel { accuracy_us } => accuracy_us / 1000,
            ClockPolicy::DangerTrustSystemClock => 0,
        };
        let refuse = "time-stamps are refused (timeNotAvailable)";
        let way_out = "on a host disciplined by other means (a VM host, PTP), or for a local try-out, \
                       start with --danger-tsa-trust-system-clock";
        match self {
            Self::Synchronized { max_error_us } => format!(
                "the kernel reports the clock synchronised (maximum error {} ms, within the stated {accuracy_ms} ms): time-stamps are issued",
                max_error_us / 1000
            ),
            Self::TooImprecise { max_error_us } => format!(
                "the kernel's maximum clock error is {} ms, over the stated accuracy of {accuracy_ms} ms: {refuse}; \
                 raise --tsa-accuracy-ms or fix the time source",
                max_error_us / 1000
            ),
            Self::Unsynchronized { .. } => format!(
                "the kernel reports the clock unsynchronised: {refuse} until it is synchronised within \
                 {accuracy_ms} ms; {way_out}"
            ),
            Self::Unreadable => format!("the kernel's clock state cannot be read (adjtimex failed): {refuse}; {way_out}"),
            Self::Trusted => {
                "the system clock is trusted without checking its synchronisation (--danger-tsa-trust-system-clock): \
                 time-stamps are issued"
                    .to_owned()
            }
        }
    }
}

/// Follows the clock state and reports each change once: a log line, and
/// the gauges `cartorio_tsa_clock_synchronized` (the kernel vouches for
/// the clock within the stated accuracy), `cartorio_tsa_clock_max_error_seconds`
/// and `cartorio_tsa_issuing` (time-stamps are being issued).
pub struct ClockWatch {
    pub policy: ClockPolicy,
    last: AtomicU8,
    synchronized: metrics::Gauge,
    max_error: metrics::Gauge,
    issuing: metrics::Gauge,
}

impl ClockWatch {
    pub fn new(policy: ClockPolicy) -> Self {
        Self {
            policy,
            last: AtomicU8::new(0),
            synchronized: metrics::gauge!("cartorio_tsa_clock_synchronized"),
            max_error: metrics::gauge!("cartorio_tsa_clock_max_error_seconds"),
            issuing: metrics::gauge!("cartorio_tsa_issuing"),
        }
    }

    /// The state now; logged when it differs from the last one seen.
    pub fn check(&self) -> ClockState {
        let state = self.policy.state();
        self.synchronized.set(f64::from(u8::from(matches!(state, ClockState::Synchronized { .. }))));
        self.issuing.set(f64::from(u8::from(state.issuing())));
        if let Some(us) = state.max_error_us() {
            self.max_error.set(us as f64 / 1e6);
        }
        let previous = self.last.swap(state.code(), Ordering::Relaxed);
        if previous != state.code() {
            let message = state.describe(self.policy);
            match state.issuing() {
                true => tracing::info!(clock = state.label(), "TSA clock: {message}"),
                false => tracing::warn!(clock = state.label(), "TSA clock: {message}"),
            }
        }
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_clock_the_kernel_vouches_for_or_a_trusted_one_issues() {
        let sync = |synchronized, max_error_us| Some(ClockSync { synchronized, max_error_us });
        assert_eq!(ClockState::judge(sync(true, 500), 1000), ClockState::Synchronized { max_error_us: 500 });
        assert_eq!(
            ClockState::judge(sync(true, 1500), 1000),
            ClockState::TooImprecise { max_error_us: 1500 }
        );
        assert_eq!(ClockState::judge(sync(false, 0), 1000), ClockState::Unsynchronized { max_error_us: 0 });
        assert_eq!(ClockState::judge(None, 1000), ClockState::Unreadable);
        let issuing: Vec<bool> = [
            ClockState::judge(sync(true, 500), 1000),
            ClockState::judge(sync(true, 1500), 1000),
            ClockState::judge(sync(false, 0), 1000),
            ClockState::Unreadable,
            ClockPolicy::new(1000, true).state(),
        ]
        .iter()
        .map(|s| s.issuing())
        .collect();
        assert_eq!(issuing, [true, false, false, false, true]);
        let advice = ClockState::Unsynchronized { max_error_us: 0 }.describe(ClockPolicy::new(1000, false));
        assert!(advice.contains("--danger-tsa-trust-system-clock") && advice.contains("1000 ms"), "{advice}");
    }
}
