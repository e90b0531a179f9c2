//! A device's up/down state machine, I/O-free (time is passed in).
//!
//! It decides what is worth logging: going down once (warn), coming back once (info, with
//! the outage length). Failures in between only bump counters.

use std::time::{Duration, Instant};

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

#[cfg(test)]
mod tests {
    use super::*;

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
