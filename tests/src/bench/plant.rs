//! Simulated plants of any size, and the broker an agent under test publishes to.
//!
//! One plant-sim serves at most 1,000 machines, so a larger plant is split over several
//! simulator processes (different seeds); their maps are merged, with the machines of
//! simulator `k > 0` renamed `s<k>-<id>` so every device id and asset stays unique.

use ::tests::process::Proc;
use ::tests::stack::READY;
use anyhow::Context;
use simulators::RegisterMap;

use super::Ctx;
use super::aggregator::{Aggregator, BrokerChoice, Storage};

/// Largest plant one plant-sim process serves.
const MACHINES_PER_SIM: usize = 1000;

/// Running simulators and the merged register map.
pub(crate) struct Plant {
    /// Kept alive for the plant's lifetime (killed on drop).
    _sims: Vec<Proc>,
    /// Every machine of every simulator.
    pub(crate) map: RegisterMap,
}

impl Plant {
    /// Starts enough simulators for `machines` machines on OS-chosen ports.
    pub(crate) async fn start(ctx: &Ctx, machines: usize) -> anyhow::Result<Self> {
        let sims_needed = machines.div_ceil(MACHINES_PER_SIM).max(1);
        let bin = ctx.bin(::tests::bins::PLANT_SIM)?;
        let mut sims = Vec::new();
        let mut merged: Option<RegisterMap> = None;
        for k in 0..sims_needed {
            // Spread evenly: the first `machines % sims_needed` simulators get one more.
            let n = machines / sims_needed + usize::from(k < machines % sims_needed);
            let map_path = ctx
                .logs()
                .join(format!("map-{}-{k}.toml", rand::random::<u32>()));
            let sim = Proc::spawn(
                &bin,
                &[
                    "--machines",
                    &n.to_string(),
                    "--seed",
                    &(42 + k).to_string(),
                    "--listen",
                    "127.0.0.1:0",
                    "--map-out",
                    &map_path.to_string_lossy(),
                ],
                ctx.logs(),
                "plant-sim",
                READY,
            )
            .await?;
            let mut map = simulators::read_map(&map_path)
                .with_context(|| format!("read {}", map_path.display()))?;
            if k > 0 {
                for m in &mut map.entries {
                    m.id = format!("s{k}-{}", m.id);
                    m.asset = match m.asset.rsplit_once('/') {
                        Some((head, last)) => format!("{head}/s{k}-{last}"),
                        None => format!("s{k}-{}", m.asset),
                    };
                }
            }
            merged = Some(match merged {
                None => map,
                Some(mut all) => {
                    all.machines += map.machines;
                    all.entries.extend(map.entries);
                    all
                }
            });
            sims.push(sim);
        }
        let map = merged.context("no simulator started")?;
        Ok(Self { _sims: sims, map })
    }

    /// Process ids of the simulators.
    pub(crate) fn pids(&self) -> Vec<u32> {
        self._sims.iter().filter_map(Proc::pid).collect()
    }

    /// Number of tags (signals) over every machine.
    pub(crate) fn tags(&self) -> usize {
        self.map.entries.iter().map(|m| m.signals.len()).sum()
    }
}

/// The broker an agent publishes to in the poll and footprint scenarios.
pub(crate) struct AgentBroker {
    /// `host:port`.
    pub(crate) addr: String,
    /// What it is, for the report.
    pub(crate) label: String,
    /// The aggregator owning the embedded broker, when Mosquitto is not reachable.
    _aggregator: Option<Aggregator>,
}

impl AgentBroker {
    /// The machine's Mosquitto when reachable (a C broker that costs little CPU next to the
    /// agent), otherwise an aggregator's embedded broker (with SQLite storage behind it).
    pub(crate) async fn start(ctx: &Ctx) -> anyhow::Result<Self> {
        if let Ok(addr) = ::tests::peers::mosquitto().await {
            return Ok(Self {
                label: format!("Mosquitto {addr}"),
                addr,
                _aggregator: None,
            });
        }
        let agg = Aggregator::start(ctx, BrokerChoice::Embedded, Storage::Sqlite).await?;
        Ok(Self {
            addr: agg.broker_addr.clone(),
            label: "aggregator embedded broker (Mosquitto unreachable)".into(),
            _aggregator: Some(agg),
        })
    }
}
