//! Reloading the configuration file while the agent runs: on SIGHUP, and when the file's
//! content changes, with no signal needed.
//!
//! The file is read every [`POLL`] (a configuration file is small; polling works the same
//! for in-place writes, editors' rename-over saves and configuration-management tools,
//! where inotify-style watches lose track of a replaced file). A new content is applied once
//! it has been the same on two reads in a row, so a file caught half-written is not loaded.
//! SIGHUP always reloads, changed or not. Either way the file is parsed and validated like
//! at start: an invalid (or unreadable) file is reported, every problem at error as
//! `FILE:LINE:COL: path: message`, and the agent keeps its running configuration; the same
//! bad content is reported once, not on every poll. What a valid file changes is decided by
//! [`crate::reload`] and applied by [`crate::app`] without touching the spool or the
//! forwarder.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::app::AgentHandle;

/// How often the file is read to detect a change.
pub const POLL: Duration = Duration::from_secs(1);

/// Fingerprint of the file's content; `None` when it cannot be read (e.g. between an
/// editor's delete and rename).
fn fingerprint(path: &Path) -> Option<u64> {
    let bytes = std::fs::read(path).ok()?;
    let mut h = DefaultHasher::new();
    bytes.hash(&mut h);
    Some(h.finish())
}

/// Change detection over successive reads (I/O-free).
#[derive(Debug)]
struct Detector {
    /// Content last loaded (at start, or by the last reload attempt).
    loaded: Option<u64>,
    /// A different content seen once, applied if the next read sees it again.
    pending: Option<u64>,
}

impl Detector {
    /// One read; true when `now` should be loaded.
    fn observe(&mut self, now: Option<u64>) -> bool {
        let Some(now) = now else {
            return false;
        };
        if Some(now) == self.loaded {
            self.pending = None;
            false
        } else if Some(now) == self.pending {
            self.loaded = Some(now);
            self.pending = None;
            true
        } else {
            self.pending = Some(now);
            false
        }
    }

    /// A reload happened for another reason (SIGHUP) with content `now`.
    fn loaded(&mut self, now: Option<u64>) {
        self.loaded = now;
        self.pending = None;
    }
}

/// Loads `path` and hands valid settings to the agent; reports an invalid file. Returns
/// false when the agent has stopped.
async fn reload(path: &Path, handle: &AgentHandle) -> bool {
    match crate::config::load(path) {
        Ok(settings) => handle.reload(settings).await,
        Err(e) => {
            for line in e.to_string().lines() {
                tracing::error!("{line}");
            }
            tracing::error!(
                problems = e.problems().len(),
                "configuration reload rejected; keeping the running configuration"
            );
            true
        }
    }
}

/// Reloads the configuration file at `path` on every SIGHUP and on every change of its
/// content, until the agent stops.
pub async fn reload_on_signal_or_change(path: PathBuf, handle: AgentHandle) {
    let mut detector = Detector {
        loaded: fingerprint(&path),
        pending: None,
    };
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    #[cfg(unix)]
    let mut hangup = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(s) => Some(s),
        Err(e) => {
            tracing::error!(error = %e, "cannot listen for SIGHUP; reloading on file changes only");
            None
        }
    };
    loop {
        #[cfg(unix)]
        let signalled = async {
            match hangup.as_mut() {
                Some(h) => h.recv().await,
                None => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let signalled = std::future::pending::<Option<()>>();
        tokio::select! {
            Some(()) = signalled => {
                tracing::info!(config = %path.display(), "SIGHUP received; reloading the configuration");
                detector.loaded(fingerprint(&path));
            }
            _ = poll.tick() => {
                if !detector.observe(fingerprint(&path)) {
                    continue;
                }
                tracing::info!(config = %path.display(), "configuration file changed; reloading it");
            }
        }
        if !reload(&path, &handle).await {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_is_applied_once_stable_and_only_once() {
        let mut d = Detector {
            loaded: Some(1),
            pending: None,
        };
        assert!(!d.observe(Some(1)), "unchanged");
        assert!(!d.observe(None), "unreadable for a moment");
        assert!(!d.observe(Some(2)), "first sight of a change");
        assert!(!d.observe(Some(3)), "still being written");
        assert!(d.observe(Some(3)), "stable: apply");
        assert!(!d.observe(Some(3)), "applied once");
        assert!(!d.observe(Some(4)));
        assert!(
            !d.observe(Some(3)),
            "back to the loaded content: nothing to do"
        );
        assert!(!d.observe(Some(3)));
        d.loaded(Some(5));
        assert!(!d.observe(Some(5)), "a SIGHUP reload counts as loaded");
    }
}
