//! A device's up/down state machine and the verdict on one poll cycle, I/O-free (time is
//! passed in).
//!
//! A cycle is healthy when the device answered at least one request with data. A transport
//! failure (connect, timeout, lost connection, protocol mismatch) is unhealthy, and so is a
//! cycle in which *every* request got a Modbus exception ([`exception_only`]): a gateway
//! answering 0x0A/0x0B for a dead device behind it, or a device in a fault state, delivers
//! no data even though its TCP connection is fine. Such a device is reported down while the
//! connection stays open; its points already carry the exception as their bad quality.
//!
//! [`Health`] decides what is worth logging: going down once (warn), coming back once (info,
//! with the outage length). Failures in between only bump counters.

use std::time::{Duration, Instant};

use protocols::modbus::PollOutcome;

/// What a poll result changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transition {
    /// First successful cycle ever.
    Connected,
    /// First failure after being up (or before ever being up).
    WentDown {
        /// The failure's reason.
        reason: String,
    },
    /// First success after being down.
    Recovered {
        /// How long the device was down.
        outage: Duration,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Not polled yet.
    Unknown,
    Up,
    Down {
        since: Instant,
    },
}

/// Tracks one device's health.
#[derive(Debug)]
pub(crate) struct Health {
    state: State,
}

impl Health {
    pub(crate) fn new() -> Self {
        Self {
            state: State::Unknown,
        }
    }

    /// A cycle completed without a transport failure.
    pub(crate) fn success(&mut self, now: Instant) -> Option<Transition> {
        let t = match self.state {
            State::Up => None,
            State::Unknown => Some(Transition::Connected),
            State::Down { since } => Some(Transition::Recovered {
                outage: now.saturating_duration_since(since),
            }),
        };
        self.state = State::Up;
        t
    }

    /// A connect or request failed.
    pub(crate) fn failure(&mut self, now: Instant, reason: &str) -> Option<Transition> {
        match self.state {
            State::Down { .. } => None,
            State::Up | State::Unknown => {
                self.state = State::Down { since: now };
                Some(Transition::WentDown {
                    reason: reason.to_owned(),
                })
            }
        }
    }
}

/// If the cycle reached the device but every request got an exception, why (the distinct
/// exceptions, e.g. `exception 0B gateway target device failed to respond`); otherwise
/// `None` (some data came back, or a transport failure decides the verdict instead).
pub(crate) fn exception_only(outcome: &PollOutcome) -> Option<String> {
    if outcome.error.is_some() || outcome.requests_ok > 0 || outcome.exceptions.is_empty() {
        return None;
    }
    let mut reasons: Vec<String> = Vec::new();
    for (_, exception) in &outcome.exceptions {
        let reason = exception.reason();
        if !reasons.contains(&reason) {
            reasons.push(reason);
        }
    }
    Some(reasons.join(", "))
}

#[cfg(test)]
mod tests {
    use protocols::modbus::{DriverError, Exception};

    use super::*;

    fn outcome(ok: usize, codes: &[u8], error: Option<DriverError>) -> PollOutcome {
        PollOutcome {
            learned: Vec::new(),
            plan_change: None,
            points: Vec::new(),
            requests_ok: ok,
            exceptions: codes
                .iter()
                .enumerate()
                .map(|(i, c)| (i, Exception(*c)))
                .collect(),
            error,
        }
    }

    #[test]
    fn a_cycle_of_only_exceptions_is_unhealthy() {
        assert_eq!(
            exception_only(&outcome(0, &[0x0B, 0x0B, 0x0B], None)).as_deref(),
            Some("exception 0B gateway target device failed to respond")
        );
        assert_eq!(
            exception_only(&outcome(0, &[0x0A, 0x02, 0x0A], None)).as_deref(),
            Some("exception 0A gateway path unavailable, exception 02 illegal data address")
        );
        // Some data came back: healthy, the exceptions only turn their tags bad.
        assert_eq!(exception_only(&outcome(1, &[0x0B, 0x0B], None)), None);
        assert_eq!(exception_only(&outcome(3, &[], None)), None);
        // A transport failure is judged as such, not as an exception cycle.
        let timeout = DriverError::Timeout {
            endpoint: "127.0.0.1:502 unit 1".into(),
            function: 3,
            start: 0,
            count: 1,
            timeout: Duration::from_secs(1),
        };
        assert_eq!(exception_only(&outcome(0, &[0x0B], Some(timeout))), None);
    }

    #[test]
    fn exception_outage_is_logged_once_and_recovery_carries_its_length() {
        let t0 = Instant::now();
        let mut h = Health::new();
        assert_eq!(h.success(t0), Some(Transition::Connected));
        let reason = "exception 0B gateway target device failed to respond";
        assert_eq!(
            h.failure(t0 + Duration::from_secs(1), reason),
            Some(Transition::WentDown {
                reason: reason.into()
            })
        );
        assert_eq!(h.failure(t0 + Duration::from_secs(2), reason), None);
        assert_eq!(h.failure(t0 + Duration::from_secs(3), "timeout"), None);
        assert_eq!(
            h.success(t0 + Duration::from_secs(31)),
            Some(Transition::Recovered {
                outage: Duration::from_secs(30)
            })
        );
        assert_eq!(h.success(t0 + Duration::from_secs(32)), None);
    }

    #[test]
    fn logs_only_state_changes() {
        let t0 = Instant::now();
        let mut h = Health::new();
        assert_eq!(h.success(t0), Some(Transition::Connected));
        assert_eq!(h.success(t0), None);
        let down = h.failure(t0 + Duration::from_secs(1), "timeout");
        assert_eq!(
            down,
            Some(Transition::WentDown {
                reason: "timeout".into()
            })
        );
        assert_eq!(
            h.failure(t0 + Duration::from_secs(2), "connection refused"),
            None
        );
        assert_eq!(
            h.success(t0 + Duration::from_secs(11)),
            Some(Transition::Recovered {
                outage: Duration::from_secs(10)
            })
        );
        let mut never = Health::new();
        assert!(matches!(
            never.failure(t0, "connection refused"),
            Some(Transition::WentDown { .. })
        ));
    }
}
