//! The subscription to every data, meta and status topic, and its retry while the broker
//! refuses it (I/O-free; time is passed in).
//!
//! Each connect subscribes to all of [`FILTERS`] at QoS 1. A SUBACK with a failure return
//! code (an ACL denying us, a broker limit) leaves ingest deaf for those topics: the refused
//! filters are logged at error and subscribed again with backoff ([`RETRY_BASE`] doubling
//! up to [`RETRY_CAP`], with jitter) until granted; health reports ingest `down` meanwhile.
//! Only one SUBSCRIBE is in flight at a time, so a SUBACK's codes map to its filters.

use std::time::Duration;

use protocols::topic::{FILTER_ALL_DATA, FILTER_ALL_META, FILTER_ALL_STATUS};
use rumqttc::SubscribeReasonCode;
use tokio::time::Instant;

use crate::backoff::Backoff;

/// Everything the aggregator subscribes to.
pub(crate) const FILTERS: [&str; 3] = [FILTER_ALL_DATA, FILTER_ALL_META, FILTER_ALL_STATUS];
/// First retry of a refused subscription after 5..10 s (jitter halves at most)...
const RETRY_BASE: Duration = Duration::from_secs(10);
/// ...growing to 15..30 s.
const RETRY_CAP: Duration = Duration::from_secs(30);

/// What a SUBACK meant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SubAckOutcome {
    /// Every filter of the SUBSCRIBE was granted.
    Granted,
    /// These filters were refused; a retry is scheduled.
    Refused(Vec<&'static str>),
    /// No SUBSCRIBE of ours was in flight (ignored).
    Unexpected,
}

/// Subscription state of one client.
#[derive(Debug)]
pub(crate) struct Subscriptions {
    in_flight: Option<Vec<&'static str>>,
    refused: Vec<&'static str>,
    retry_at: Option<Instant>,
    backoff: Backoff,
}

impl Default for Subscriptions {
    fn default() -> Self {
        Self {
            in_flight: None,
            refused: Vec::new(),
            retry_at: None,
            backoff: Backoff::new(RETRY_BASE, RETRY_CAP),
        }
    }
}

impl Subscriptions {
    /// Connected: subscribe to everything. Returns the filters to subscribe.
    pub(crate) fn on_connect(&mut self) -> Vec<&'static str> {
        self.refused.clear();
        self.retry_at = None;
        self.backoff.reset();
        self.in_flight = Some(FILTERS.to_vec());
        FILTERS.to_vec()
    }

    /// Connection lost: whatever was pending is redone on the next connect.
    pub(crate) fn on_disconnect(&mut self) {
        self.in_flight = None;
        self.retry_at = None;
    }

    /// The SUBSCRIBE could not even be queued: retry it like a refusal.
    pub(crate) fn queue_failed(&mut self, now: Instant) {
        if let Some(filters) = self.in_flight.take() {
            self.schedule(filters, now);
        }
    }

    pub(crate) fn on_suback(
        &mut self,
        codes: &[SubscribeReasonCode],
        now: Instant,
    ) -> SubAckOutcome {
        let Some(filters) = self.in_flight.take() else {
            return SubAckOutcome::Unexpected;
        };
        // A code missing from a short SUBACK counts as a refusal.
        let refused: Vec<_> = filters
            .iter()
            .enumerate()
            .filter(|(i, _)| !matches!(codes.get(*i), Some(SubscribeReasonCode::Success(_))))
            .map(|(_, f)| *f)
            .collect();
        if refused.is_empty() {
            self.backoff.reset();
            return SubAckOutcome::Granted;
        }
        self.schedule(refused.clone(), now);
        SubAckOutcome::Refused(refused)
    }

    fn schedule(&mut self, filters: Vec<&'static str>, now: Instant) {
        self.refused = filters;
        self.retry_at = Some(now + self.backoff.next_delay());
    }

    /// When the refused filters are due for another SUBSCRIBE.
    pub(crate) fn retry_at(&self) -> Option<Instant> {
        self.retry_at
    }

    /// The retry is due: the filters to subscribe again (now in flight).
    pub(crate) fn take_retry(&mut self) -> Vec<&'static str> {
        self.retry_at = None;
        let filters = std::mem::take(&mut self.refused);
        self.in_flight = Some(filters.clone());
        filters
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use rumqttc::QoS;

    use super::*;

    #[test]
    fn refused_filters_are_retried_until_granted() {
        let now = Instant::now();
        let mut s = Subscriptions::default();
        assert_eq!(s.on_suback(&[], now), SubAckOutcome::Unexpected);
        assert_eq!(s.on_connect(), FILTERS);
        let ok = SubscribeReasonCode::Success(QoS::AtLeastOnce);
        let codes = [ok, SubscribeReasonCode::Failure, ok];
        assert_eq!(
            s.on_suback(&codes, now),
            SubAckOutcome::Refused(vec![FILTER_ALL_META])
        );
        let at = s.retry_at().unwrap();
        assert!(at >= now + Duration::from_secs(5) && at <= now + Duration::from_secs(10));
        assert_eq!(s.take_retry(), [FILTER_ALL_META]);
        assert!(s.retry_at().is_none());
        assert_eq!(
            s.on_suback(&[SubscribeReasonCode::Failure], now),
            SubAckOutcome::Refused(vec![FILTER_ALL_META])
        );
        let second = s.retry_at().unwrap();
        assert!(second >= now + Duration::from_secs(10), "backs off");
        assert_eq!(s.take_retry(), [FILTER_ALL_META]);
        assert_eq!(s.on_suback(&[ok], now), SubAckOutcome::Granted);
        assert!(s.retry_at().is_none());
        // A short SUBACK refuses what it does not mention.
        s.on_connect();
        assert_eq!(
            s.on_suback(&[ok], now),
            SubAckOutcome::Refused(vec![FILTER_ALL_META, FILTER_ALL_STATUS])
        );
        s.on_disconnect();
        assert!(s.retry_at().is_none());
    }
}
