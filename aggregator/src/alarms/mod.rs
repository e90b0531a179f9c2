//! Alarms: limit rules on stored points (`[[alarm]]` in the configuration), their
//! lifecycle, and the journal of every transition.
//!
//! - [`rule`]: levels hihi/hi/lo/lolo with a deadband (I/O-free).
//! - [`engine`]: raise after a delay, escalate, acknowledge, shelve with expiry, clear
//!   (I/O-free).
//! - [`Alarms`]: the engine behind a lock, fed by the storage writer after each commit (so
//!   an alarm is only raised on data that is durably stored), with every transition
//!   appended and fsynced to `{data_dir}/alarms/journal.jsonl` (one JSON object per line:
//!   alarm id, time, action, level, user, comment, value).
//!
//! Not yet: alarm state survives no restart (the journal records it, nothing replays it);
//! rate-of-change, stale, anomaly and RUL rules; webhook notification.

pub mod engine;
pub mod rule;

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use protocols::model::{Point, Value};

pub use engine::{ActionError, Alarm, Engine, Filter, Rule, State, Transition};

/// The engine and its journal, shared by the writer and the API.
#[derive(Debug)]
pub struct Alarms {
    engine: Mutex<Engine>,
    journal: Mutex<Option<(PathBuf, File)>>,
}

impl Alarms {
    /// Alarms for `rules`, journaled under `data_dir/alarms/` (created when a transition
    /// first needs it).
    pub fn new(rules: Vec<Rule>, data_dir: &Path) -> Self {
        let path = data_dir.join("alarms").join("journal.jsonl");
        let journal = (!rules.is_empty())
            .then(|| open_journal(&path))
            .flatten()
            .map(|f| (path, f));
        Self {
            engine: Mutex::new(Engine::new(rules)),
            journal: Mutex::new(journal),
        }
    }

    /// Applies committed points (the writer calls this after each commit).
    pub fn on_points<'a>(&self, points: impl IntoIterator<Item = &'a Point>) {
        let mut out = Vec::new();
        {
            let mut e = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            if !e.has_rules() {
                return;
            }
            for p in points {
                if !e.watches(&p.tag) {
                    continue;
                }
                let v = p
                    .quality
                    .is_good()
                    .then(|| numeric(p.value.as_ref()))
                    .flatten();
                out.extend(e.on_point(&p.tag, p.ts_ns, v));
            }
            out.extend(e.expire_shelving(protocols::model::now_ns()));
        }
        self.journal(&out);
    }

    /// Alarms matching `filter`, newest first (shelving expiry applied first).
    pub fn list(&self, filter: Filter) -> Vec<Alarm> {
        let expired = self
            .engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .expire_shelving(protocols::model::now_ns());
        self.journal(&expired);
        self.engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .list(filter)
    }

    /// Open (active or acknowledged) alarms per asset.
    pub fn open_by_asset(&self) -> std::collections::HashMap<protocols::model::AssetPath, usize> {
        self.engine
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .open_by_asset()
    }

    /// Runs an operator action on the engine, journals it and returns the alarm after it.
    pub fn act(
        &self,
        action: impl FnOnce(&mut Engine) -> Result<Transition, ActionError>,
    ) -> Result<Alarm, ActionError> {
        let (t, alarm) = {
            let mut e = self.engine.lock().unwrap_or_else(PoisonError::into_inner);
            let t = action(&mut e)?;
            let alarm = e
                .get(t.alarm)
                .cloned()
                .ok_or(ActionError::Unknown(t.alarm))?;
            (t, alarm)
        };
        self.journal(std::slice::from_ref(&t));
        Ok(alarm)
    }

    fn journal(&self, transitions: &[Transition]) {
        if transitions.is_empty() {
            return;
        }
        for t in transitions {
            tracing::info!(alarm = t.alarm, action = t.action, level = t.level.as_str(), user = ?t.user, "alarm");
        }
        let mut guard = self.journal.lock().unwrap_or_else(PoisonError::into_inner);
        let Some((path, file)) = guard.as_mut() else {
            return;
        };
        let mut text = String::new();
        for t in transitions {
            if let Ok(line) = serde_json::to_string(t) {
                text.push_str(&line);
                text.push('\n');
            }
        }
        if let Err(err) = file
            .write_all(text.as_bytes())
            .and_then(|()| file.sync_data())
        {
            tracing::error!(path = %path.display(), %err, "cannot append to the alarm journal");
        }
    }
}

fn open_journal(path: &Path) -> Option<File> {
    let open = || {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        OpenOptions::new().create(true).append(true).open(path)
    };
    match open() {
        Ok(f) => Some(f),
        Err(err) => {
            tracing::error!(path = %path.display(), %err, "cannot open the alarm journal; transitions are only logged");
            None
        }
    }
}

/// A value as a number for limit rules (bools as 0/1); text is not numeric.
fn numeric(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Bool(b) => Some(f64::from(u8::from(*b))),
        Value::Int(i) => Some(*i as f64),
        Value::UInt(u) => Some(*u as f64),
        Value::Float(f) => Some(*f),
        Value::Text(_) => None,
    }
}
