//! The end of every fault test: what the simulator served, what the broker accepted and
//! what the aggregator stored must agree exactly.
//!
//! [`finish`] does it in order:
//! 1. **Quiesce**: every machine is silenced (`silence` on plant-sim's control socket), so
//!    the served-reads ledger stops growing; reads already answered reach the agent.
//! 2. **Served = stored**: wait until, for every tag, each read the ledger says covered the
//!    tag is matched by one stored good point ([`match_served`]), with no stored good point
//!    left over. Only reads served inside `may_lose` (the instant a process was SIGKILLed:
//!    points held in its memory) may stay unmatched; they are reported. With
//!    `counted_drops` (a spool limit), the served points missing must be what the agent
//!    reports dropped (`dropped_points` in `GET /api/v1/agents`), less at most its
//!    `dropped_unconfirmed_points`: batches that were published when the connection broke
//!    and never acknowledged, which the broker may or may not have received.
//! 3. **Observer = stored**: the agent is stopped (SIGTERM) and storage must equal the set
//!    of `(tag, ts)` the independent MQTT observer received, bad points included, with no
//!    `(tag, ts)` stored twice and no batch missing from the observer (except, with
//!    `counted_drops`, the `dropped_batches` the agent reports, less at most its unconfirmed
//!    ones).
//!
//! Matching a stored point to a served read uses time, not values: the agent stamps a
//! point just before it sends the request and the simulator records the read just after
//! it answers, and the next read of the same range is only sent after that answer. So the
//! read that produced a point stamped `p` is the first one served at or after `p`.
//! The figures are printed as `served / stored / duplicates`.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context, ensure};
use serde_json::Value;
use simulators::served::ServedRead;

use super::observer::{Observer, observed, seq_gaps};
use crate::api::{Api, q};
use crate::stack::Stack;

/// Clock slack when matching a point to its read (both stamped from one machine's clock).
const SLACK_NS: i64 = 1_000_000;
/// Longest time from a point's stamp to its read being answered (a request timeout).
const MAX_LATENCY_NS: i64 = 5_000_000_000;
/// Bound on the agent's clean stop.
const GRACE: Duration = Duration::from_secs(20);

/// One tag the agent polls: its id and where the simulator serves it.
#[derive(Clone, Debug)]
pub struct TagSource {
    /// Tag id as stored.
    pub tag: String,
    /// Machine id in the map.
    pub machine: String,
    /// Modbus table.
    pub table: simulators::RegisterKind,
    /// First address.
    pub address: u16,
    /// Registers (or bits) it spans.
    pub width: u16,
}

/// Every data tag the agent is configured to poll.
pub fn tag_sources(stack: &Stack) -> Vec<TagSource> {
    stack
        .map
        .entries
        .iter()
        .flat_map(|m| {
            m.signals.iter().map(|s| TagSource {
                tag: stack.tag(m, &s.name),
                machine: m.id.clone(),
                table: s.register,
                address: s.address,
                width: s.data_type.width(),
            })
        })
        .collect()
}

/// Raw history of `tag` over all time: (ts, point JSON); empty while the tag is unknown.
pub async fn raw_history(api: &Api, tag: &str) -> anyhow::Result<Vec<(i64, Value)>> {
    let path = format!("/api/v1/history?tag={}&from=0&max_points=100000", q(tag));
    let (status, body) = api.get_raw(&path).await?;
    if status == 404 {
        return Ok(Vec::new());
    }
    ensure!(status == 200, "GET {path} -> {status}: {body}");
    let h: Value = serde_json::from_str(&body)?;
    ensure!(
        h["mode"] == "raw",
        "{tag}: history is not raw: {}",
        h["mode"]
    );
    h["points"]
        .as_array()
        .context("points")?
        .iter()
        .map(|p| Ok((p["ts_ns"].as_i64().context("ts_ns")?, p.clone())))
        .collect()
}

/// What storage holds for the polled tags.
#[derive(Default)]
pub struct Stored {
    /// Every stored `(tag, ts)`.
    pub all: BTreeSet<(String, i64)>,
    /// Timestamps of good points per tag, ascending.
    pub good: BTreeMap<String, Vec<i64>>,
    /// `(tag, ts)` returned more than once.
    pub duplicates: usize,
}

/// Reads the raw history of every tag.
pub async fn stored(api: &Api, tags: &[TagSource]) -> anyhow::Result<Stored> {
    let mut out = Stored::default();
    for t in tags {
        let good = out.good.entry(t.tag.clone()).or_default();
        for (ts, point) in raw_history(api, &t.tag).await? {
            if !out.all.insert((t.tag.clone(), ts)) {
                out.duplicates += 1;
            }
            if point["quality"] == "good" {
                good.push(ts);
            }
        }
        good.sort_unstable();
    }
    Ok(out)
}

/// Served reads against stored good points.
#[derive(Debug, Default)]
pub struct ServedMatch {
    /// Points served (one per tag per covering read).
    pub served: usize,
    /// Served points matched by a stored good point.
    pub matched: usize,
    /// Served points with no stored point: (tag, when served).
    pub lost: Vec<(String, i64)>,
    /// Stored good points no served read explains: (tag, ts).
    pub unexplained: Vec<(String, i64)>,
}

/// Matches every tag's stored good points to the reads that served it (module docs).
pub fn match_served(
    tags: &[TagSource],
    reads: &[ServedRead],
    good: &BTreeMap<String, Vec<i64>>,
) -> ServedMatch {
    let mut m = ServedMatch::default();
    for t in tags {
        let mut served: Vec<i64> = reads
            .iter()
            .filter(|r| r.covers(&t.machine, t.table, t.address, t.width))
            .map(|r| r.ts_ns)
            .collect();
        served.sort_unstable();
        m.served += served.len();
        let points = good.get(&t.tag).map_or(&[][..], Vec::as_slice);
        let mut i = 0;
        for &p in points {
            while i < served.len() && served[i] < p - SLACK_NS {
                m.lost.push((t.tag.clone(), served[i]));
                i += 1;
            }
            if i < served.len() && served[i] - p <= MAX_LATENCY_NS {
                m.matched += 1;
                i += 1;
            } else {
                m.unexplained.push((t.tag.clone(), p));
            }
        }
        m.lost
            .extend(served[i..].iter().map(|&ts| (t.tag.clone(), ts)));
    }
    m
}

/// Figures of one reconciliation.
#[derive(Debug)]
pub struct Tally {
    /// Points the simulator served.
    pub served: usize,
    /// Good points stored that match a served read.
    pub stored_good: usize,
    /// All `(tag, ts)` stored (good and bad).
    pub stored: usize,
    /// `(tag, ts)` stored twice.
    pub duplicates: usize,
    /// Served points not stored (inside the allowed window, or counted drops).
    pub lost: usize,
    /// Served points not stored, as `(tag, when served)`, oldest first.
    pub lost_points: Vec<(String, i64)>,
    /// What the agent reported dropped, with `counted_drops`.
    pub dropped: Option<Drops>,
    /// Batches the observer received (including redeliveries).
    pub batches: usize,
    /// Point deliveries to the observer (including redeliveries).
    pub deliveries: usize,
}

/// How [`finish`] waits.
pub struct FinishOptions {
    /// Served reads in this range (ns) may be missing from storage (a SIGKILL's window).
    pub may_lose: Option<Range<i64>>,
    /// Bound on each wait for storage to catch up.
    pub deadline: Duration,
    /// The agent's spool drops data (its limit): the served points missing from storage
    /// must be exactly its reported `dropped_points`, the batches missing at the observer
    /// exactly its `dropped_batches`.
    pub counted_drops: bool,
}

impl Default for FinishOptions {
    fn default() -> Self {
        Self {
            may_lose: None,
            deadline: Duration::from_secs(30),
            counted_drops: false,
        }
    }
}

/// What an agent reports dropped (`GET /api/v1/agents`).
#[derive(Debug, Clone, Copy, Default)]
pub struct Drops {
    /// Batches discarded by its spool limit.
    pub batches: u64,
    /// Points in them.
    pub points: u64,
    /// Of those, batches published without a PUBACK before a connection broke (possibly
    /// delivered).
    pub unconfirmed_batches: u64,
    /// Points in them.
    pub unconfirmed_points: u64,
}

/// The drops `agent` reports in `GET /api/v1/agents`.
pub async fn reported_drops(api: &Api, agent: &str) -> anyhow::Result<Drops> {
    let agents = api.get("/api/v1/agents").await?;
    let a = agents
        .as_array()
        .and_then(|list| list.iter().find(|a| a["agent"] == agent))
        .with_context(|| format!("agent {agent} not in /api/v1/agents: {agents}"))?;
    let n = |k: &str| {
        a[k].as_u64()
            .with_context(|| format!("no {k} in /api/v1/agents: {a}"))
    };
    Ok(Drops {
        batches: n("dropped_batches")?,
        points: n("dropped_points")?,
        unconfirmed_batches: n("dropped_unconfirmed_batches")?,
        unconfirmed_points: n("dropped_unconfirmed_points")?,
    })
}

/// Batches missing at the observer: per session, seqs in `0..=max` never seen.
fn missing_seqs(seen: &[super::observer::Seen]) -> u64 {
    let mut by_session: BTreeMap<u64, BTreeSet<u64>> = BTreeMap::new();
    for s in seen {
        by_session.entry(s.session).or_default().insert(s.seq);
    }
    by_session
        .values()
        .map(|seqs| seqs.last().map_or(0, |max| max + 1 - seqs.len() as u64))
        .sum()
}

/// Quiesces, reconciles and asserts (module docs); prints the figures.
pub async fn finish(
    test: &str,
    stack: &mut Stack,
    obs: Option<&Observer>,
    o: FinishOptions,
) -> anyhow::Result<Tally> {
    let tags = tag_sources(stack);
    stack.silence_all(Duration::from_millis(500)).await?;
    let reads = stack.served()?;
    let allowed = |ts: i64| o.counted_drops || o.may_lose.as_ref().is_some_and(|w| w.contains(&ts));
    let agent = stack.opts.agent_id.clone();
    let counted = o.counted_drops;
    let caught_up = stack
        .api
        .wait_for("storage to hold every served point", o.deadline, |api| {
            let (tags, reads, agent) = (&tags, &reads, &agent);
            async move {
                let s = stored(&api, tags).await?;
                let m = match_served(tags, reads, &s.good);
                if counted {
                    let d = reported_drops(&api, agent).await?;
                    let lost = m.lost.len() as u64;
                    ensure!(
                        (d.points - d.unconfirmed_points..=d.points).contains(&lost),
                        "{lost} served points not stored, the agent reports {d:?}"
                    );
                }
                let outside: Vec<_> = m.lost.iter().filter(|(_, ts)| !allowed(*ts)).collect();
                ensure!(
                    outside.is_empty() && m.unexplained.is_empty(),
                    "{} served points not stored (e.g. {:?}), {} stored good points \
                         never served (e.g. {:?})",
                    outside.len(),
                    outside.iter().take(5).collect::<Vec<_>>(),
                    m.unexplained.len(),
                    m.unexplained.iter().take(5).collect::<Vec<_>>()
                );
                Ok(Some(()))
            }
        })
        .await;

    let code = stack.agent.stop(GRACE).await?;
    ensure!(code == Some(0), "agent exit code {code:?}");
    let last_count = Mutex::new(usize::MAX);
    let settled = stack
        .api
        .wait_for(
            "storage to equal what the broker delivered",
            o.deadline,
            |api| {
                let (tags, last_count) = (&tags, &last_count);
                async move {
                    let seen = obs.map(Observer::snapshot).unwrap_or_default();
                    let s = stored(&api, tags).await?;
                    ensure!(
                        s.duplicates == 0,
                        "{} duplicate (tag, ts) in storage",
                        s.duplicates
                    );
                    // Without an observer: storage stopped growing.
                    let count = if obs.is_some() {
                        seen.len()
                    } else {
                        s.all.len()
                    };
                    let previous = std::mem::replace(
                        &mut *last_count.lock().unwrap_or_else(PoisonError::into_inner),
                        count,
                    );
                    let done = previous == count
                        && (obs.is_none()
                            || ((counted || seq_gaps(&seen).is_empty())
                                && s.all == observed(&seen)));
                    Ok(done.then_some(()))
                }
            },
        )
        .await;

    let seen = obs.map(Observer::snapshot).unwrap_or_default();
    let produced = observed(&seen);
    let s = stored(&stack.api, &tags).await?;
    let m = match_served(&tags, &reads, &s.good);
    let dropped = if o.counted_drops {
        Some(reported_drops(&stack.api, &agent).await?)
    } else {
        None
    };
    let tally = Tally {
        served: m.served,
        stored_good: m.matched,
        stored: s.all.len(),
        duplicates: s.duplicates,
        lost: m.lost.len(),
        lost_points: {
            let mut l = m.lost.clone();
            l.sort_by_key(|(_, ts)| *ts);
            l
        },
        dropped,
        batches: seen.len(),
        deliveries: seen.iter().map(|s| s.points.len()).sum(),
    };
    eprintln!(
        "{test}: served / stored / duplicates = {} / {} / {} (good points; {} lost inside \
         the allowed window); {} points stored in all incl. bad quality; observer: {} \
         batches, {} point deliveries incl. redeliveries",
        tally.served,
        tally.stored_good,
        tally.duplicates,
        tally.lost,
        tally.stored,
        tally.batches,
        tally.deliveries
    );
    caught_up?;
    if let Some(obs) = obs {
        check_observer(obs, &seen, &produced, &s.all, dropped, &settled)?;
    }
    if let Some(d) = dropped {
        let lost = m.lost.len() as u64;
        eprintln!(
            "{test}: the agent reports {} batches / {} points dropped, of which {} / {} \
             unconfirmed (published, no PUBACK before the connection broke); {lost} served \
             points are not in storage, {} batches never reached the broker",
            d.batches,
            d.points,
            d.unconfirmed_batches,
            d.unconfirmed_points,
            missing_seqs(&seen)
        );
        ensure!(
            (d.points - d.unconfirmed_points..=d.points).contains(&lost),
            "{lost} served points missing; the agent reports {d:?}"
        );
    }
    ensure!(
        tally.duplicates == 0,
        "{} duplicates in storage",
        tally.duplicates
    );
    ensure!(
        m.unexplained.is_empty(),
        "stored good points never served: {:?}",
        &m.unexplained[..m.unexplained.len().min(10)]
    );
    ensure!(
        m.lost.iter().all(|(_, ts)| allowed(*ts)),
        "served points lost: {:?}",
        &m.lost[..m.lost.len().min(10)]
    );
    ensure!(tally.served > 0, "nothing was served");
    settled?;
    Ok(tally)
}

/// The observer's side: no undecodable message, no batch missing (but counted drops), and
/// storage equal to what the broker delivered.
fn check_observer(
    obs: &Observer,
    seen: &[super::observer::Seen],
    produced: &BTreeSet<(String, i64)>,
    stored: &BTreeSet<(String, i64)>,
    dropped: Option<Drops>,
    settled: &anyhow::Result<()>,
) -> anyhow::Result<()> {
    let errors = obs.errors();
    ensure!(errors.is_empty(), "observer errors: {errors:?}");
    if let Some(d) = dropped {
        let missing = missing_seqs(seen);
        ensure!(
            (d.batches - d.unconfirmed_batches..=d.batches).contains(&missing),
            "{missing} batches missing at the broker; the agent reports {d:?}"
        );
    } else {
        let gaps = seq_gaps(seen);
        ensure!(gaps.is_empty(), "the observer missed batches: {gaps:?}");
    }
    let missing: Vec<_> = produced.difference(stored).take(10).collect();
    let extra: Vec<_> = stored.difference(produced).take(10).collect();
    ensure!(
        missing.is_empty() && extra.is_empty(),
        "storage differs from what the broker delivered: {} missing (e.g. {missing:?}), {} \
         never published (e.g. {extra:?}); wait: {settled:?}",
        produced.difference(stored).count(),
        stored.difference(produced).count(),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use simulators::RegisterKind;

    fn read(ts: i64, address: u16, count: u16) -> ServedRead {
        ServedRead {
            ts_ns: ts,
            machine: "m".into(),
            table: RegisterKind::Input,
            address,
            count,
        }
    }

    #[test]
    fn matching_finds_lost_and_unexplained_points() {
        let tags = [TagSource {
            tag: "t".into(),
            machine: "m".into(),
            table: RegisterKind::Input,
            address: 2,
            width: 2,
        }];
        let ms = 1_000_000;
        // Reads at 10, 110, 210, 310 ms cover the tag; one at 50 ms does not (too short).
        let reads = [
            read(10 * ms, 0, 4),
            read(50 * ms, 0, 3),
            read(110 * ms, 0, 4),
            read(210 * ms, 2, 2),
            read(310 * ms, 0, 8),
        ];
        // Points stamped just before the reads of 10 and 210 ms; 110 and 310 were lost; one
        // point at 400 ms was never served.
        let good = BTreeMap::from([("t".to_owned(), vec![9 * ms, 208 * ms, 400 * ms])]);
        let m = match_served(&tags, &reads, &good);
        assert_eq!(m.served, 4);
        assert_eq!(m.matched, 2);
        assert_eq!(
            m.lost,
            [("t".to_owned(), 110 * ms), ("t".to_owned(), 310 * ms)]
        );
        assert_eq!(m.unexplained, [("t".to_owned(), 400 * ms)]);
        let all = BTreeMap::from([("t".to_owned(), vec![9 * ms, 108 * ms, 208 * ms, 309 * ms])]);
        let m = match_served(&tags, &reads, &all);
        assert!(m.lost.is_empty() && m.unexplained.is_empty(), "{m:?}");
    }
}
