//! Ordered acknowledgement of received MQTT messages (I/O-free).
//!
//! A message may be acked only after what it carried is committed, and acks must go out in
//! the order the messages arrived: MQTT 3.1.1 §4.6 requires it and rumqttd disconnects a
//! client on an out-of-order PUBACK. Each received QoS ≥ 1 message gets a [`Ticket`];
//! completions may come in any order, and [`AckTracker::pop_ready`] releases the longest
//! completed prefix. After a reconnect the broker re-delivers everything unacked, so
//! [`AckTracker::reset`] forgets all tickets and late completions of old ones are ignored.

use std::collections::VecDeque;

/// Identifies one received message; increases monotonically across reconnects.
pub(crate) type Ticket = u64;

#[derive(Debug)]
struct Slot<T> {
    item: T,
    done: bool,
}

/// Messages awaiting their ack, oldest first.
#[derive(Debug)]
pub(crate) struct AckTracker<T> {
    next: Ticket,
    queue: VecDeque<Slot<T>>,
}

impl<T> Default for AckTracker<T> {
    fn default() -> Self {
        Self {
            next: 0,
            queue: VecDeque::new(),
        }
    }
}

impl<T> AckTracker<T> {
    /// Starts tracking a received message.
    pub(crate) fn track(&mut self, item: T) -> Ticket {
        self.queue.push_back(Slot { item, done: false });
        let ticket = self.next;
        self.next += 1;
        ticket
    }

    fn base(&self) -> Ticket {
        self.next - self.queue.len() as Ticket
    }

    /// Marks a message as safe to ack. Unknown (pre-reset or released) tickets are ignored.
    pub(crate) fn complete(&mut self, ticket: Ticket) {
        if let Some(index) = ticket.checked_sub(self.base())
            && let Some(slot) = usize::try_from(index)
                .ok()
                .and_then(|i| self.queue.get_mut(i))
        {
            slot.done = true;
        }
    }

    /// Takes the messages that can be acked now, in arrival order.
    pub(crate) fn pop_ready(&mut self) -> Vec<T> {
        let mut out = Vec::new();
        while self.queue.front().is_some_and(|s| s.done) {
            if let Some(slot) = self.queue.pop_front() {
                out.push(slot.item);
            }
        }
        out
    }

    /// Forgets every pending message (connection lost). Returns how many were pending.
    pub(crate) fn reset(&mut self) -> usize {
        let n = self.queue.len();
        self.queue.clear();
        n
    }

    /// Messages received and not yet released.
    pub(crate) fn pending(&self) -> usize {
        self.queue.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_only_the_completed_prefix_in_order() {
        let mut t = AckTracker::default();
        let a = t.track('a');
        let b = t.track('b');
        let c = t.track('c');
        t.complete(c);
        assert!(t.pop_ready().is_empty(), "c waits for a and b");
        t.complete(a);
        assert_eq!(t.pop_ready(), ['a']);
        t.complete(b);
        assert_eq!(t.pop_ready(), ['b', 'c']);
        assert_eq!(t.pending(), 0);
        t.complete(b); // already released: ignored
        assert!(t.pop_ready().is_empty());
    }

    #[test]
    fn reset_ignores_late_completions() {
        let mut t = AckTracker::default();
        let old = t.track(1);
        assert_eq!(t.reset(), 1);
        let new = t.track(2);
        t.complete(old);
        assert!(t.pop_ready().is_empty());
        t.complete(new);
        assert_eq!(t.pop_ready(), [2]);
    }
}
