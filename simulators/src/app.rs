//! Startup wiring and the run loop of the simulator: build the plant,
//! bind the Modbus listeners, write the map, then tick and serve until
//! cancelled.
//!
//! Startup order follows the style guide: validate (plant size), bind, and
//! only then announce (map file, ready line), so a reader of either can
//! connect immediately. Plant writes from clients are not fed back into the
//! model: the model is a pure function of (seed, machine, tick), and every
//! tick republishes the images, so a Modbus write (including to
//! `speed_setpoint`) lasts until the next tick, or forever when frozen.
//!
//! Faults ([`Faults`]) come from `--fault` at start and from the control socket
//! (`--control`, address in the ready line) while running; a frozen machine's image is
//! left alone by the tick loop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument as _;

use crate::faults::{FaultError, Faults};
use crate::map_file::{MapError, RegisterMap, write_map};
use crate::modbus::{ImageStore, ModbusServer, ServerError};
use crate::opcua::faults::FaultFile;
use crate::opcua::{OpcUaError, OpcUaServer, OpcUaSettings};
use crate::plant::{Plant, PlantError};
use crate::served::{ServedError, ServedLog};
use opcua::types::StatusCode;

/// Settings of one simulator instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimConfig {
    /// Number of machines, 1..=1000.
    pub machines: usize,
    /// Plant seed.
    pub seed: u64,
    /// Address of listener 0.
    pub listen: SocketAddr,
    /// Tick period; zero freezes the plant at tick 0.
    pub tick: Duration,
    /// Where to write the register map, if anywhere.
    pub map_out: Option<PathBuf>,
    /// Address of the fault-injection control socket, if any.
    pub control: Option<SocketAddr>,
    /// Fault commands applied at start (see [`crate::faults`]).
    pub faults: Vec<String>,
    /// The OPC UA server, if plant-sim serves OPC UA too.
    pub opcua: Option<OpcUaSettings>,
    /// Append every answered Modbus read to this ledger (see [`crate::served`]).
    pub served_log: Option<PathBuf>,
}

/// Why the simulator could not start.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// Invalid plant settings.
    #[error("invalid plant settings")]
    Plant(#[from] PlantError),
    /// Binding the Modbus listeners failed.
    #[error("failed to start the Modbus server")]
    Server(#[from] ServerError),
    /// Writing the register map failed.
    #[error("failed to write the register map")]
    Map(#[from] MapError),
    /// A `--fault` command is invalid.
    #[error("invalid --fault {command:?}")]
    Fault {
        /// The command.
        command: String,
        /// Why.
        #[source]
        source: FaultError,
    },
    /// Binding the control socket failed.
    #[error("failed to bind the control socket on {addr}")]
    Control {
        /// The address.
        addr: SocketAddr,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// Starting the OPC UA server failed.
    #[error("failed to start the OPC UA server")]
    OpcUa(#[from] OpcUaError),
    /// Opening the served-reads ledger failed.
    #[error("failed to open the served-reads ledger")]
    Served(#[from] ServedError),
}

/// A started simulator: listeners bound, map written, not yet serving.
#[derive(Debug)]
pub struct PlantSim {
    config: SimConfig,
    plant: Plant,
    store: Arc<ImageStore>,
    server: ModbusServer,
    faults: Arc<Faults>,
    control: Option<tokio::net::TcpListener>,
    opcua: Option<OpcUaServer>,
    served: Option<Arc<ServedLog>>,
}

impl PlantSim {
    /// Builds the plant, binds the listeners and writes the map (if asked).
    pub async fn start(config: SimConfig) -> Result<Self, SimError> {
        let plant = Plant::new(config.seed, config.machines)?;
        let faults = Arc::new(Faults::new(config.machines));
        for command in &config.faults {
            faults
                .apply_line(command)
                .map_err(|source| SimError::Fault {
                    command: command.clone(),
                    source,
                })?;
        }
        let store = Arc::new(ImageStore::from_plant(&plant));
        let server = ModbusServer::bind(config.listen, config.machines).await?;
        let control = match config.control {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|source| SimError::Control { addr, source })?,
            ),
            None => None,
        };
        let opcua = match &config.opcua {
            Some(settings) => Some(OpcUaServer::bind(settings, &plant).await?),
            None => None,
        };
        let served = match &config.served_log {
            Some(path) => {
                let ids = plant.machines().map(|m| m.id().to_owned()).collect();
                Some(Arc::new(ServedLog::open(path, ids)?))
            }
            None => None,
        };
        let sim = Self {
            config,
            plant,
            store,
            server,
            faults,
            control,
            opcua,
            served,
        };
        if let Some(path) = &sim.config.map_out {
            write_map(path, &sim.register_map())?;
            tracing::info!(path = %path.display(), "register map written");
        }
        Ok(sim)
    }

    /// Bound address of listener 0.
    pub fn modbus_addr(&self) -> SocketAddr {
        // `bind` always binds at least one listener.
        self.server
            .local_addrs()
            .first()
            .copied()
            .unwrap_or(self.config.listen)
    }

    /// Bound addresses of all listeners, by listener index.
    pub fn local_addrs(&self) -> &[SocketAddr] {
        self.server.local_addrs()
    }

    /// The register map of this instance (bound ports filled in).
    pub fn register_map(&self) -> RegisterMap {
        let mut map = RegisterMap::build(&self.plant, self.config.tick, self.server.local_addrs());
        if let Some(opcua) = &self.opcua {
            map.opcua_endpoint = Some(opcua.endpoint_url());
            map.opcua_namespace = Some(opcua.namespace());
        }
        map
    }

    /// Bound address of the OPC UA server, if it runs.
    pub fn opcua_addr(&self) -> Option<SocketAddr> {
        self.opcua.as_ref().map(OpcUaServer::local_addr)
    }

    /// Bound address of the control socket, if any.
    pub fn control_addr(&self) -> Option<SocketAddr> {
        self.control.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The faults in force (shared with the servers).
    pub fn faults(&self) -> &Arc<Faults> {
        &self.faults
    }

    /// The line printed on stdout once the simulator is reachable; ends with
    /// ` control=ADDR` when the control socket is on.
    pub fn ready_line(&self) -> String {
        let control = self
            .control_addr()
            .map(|a| format!(" control={a}"))
            .unwrap_or_default();
        let opcua = self
            .opcua
            .as_ref()
            .map(|o| format!(" opcua={} opcua_ns={}", o.local_addr(), o.namespace()))
            .unwrap_or_default();
        format!(
            "plant-sim ready modbus={} machines={} seed={}{control}{opcua}",
            self.modbus_addr(),
            self.config.machines,
            self.config.seed
        )
    }

    /// Serves Modbus and advances the plant every tick until `cancel` fires.
    pub async fn run(self, cancel: CancellationToken) {
        let Self {
            config,
            mut plant,
            store,
            server,
            faults,
            control,
            opcua,
            served,
        } = self;
        let tracker = TaskTracker::new();
        tracker.spawn(
            server
                .run(
                    Arc::clone(&store),
                    Arc::clone(&faults),
                    served,
                    cancel.child_token(),
                )
                .instrument(tracing::info_span!("modbus_server")),
        );
        if let Some(listener) = control {
            tracker.spawn(
                crate::control::serve(listener, Arc::clone(&faults), cancel.child_token())
                    .instrument(tracing::info_span!("control")),
            );
        }
        let publisher = opcua.map(|o| {
            let (publisher, run) = o.into_parts(Arc::clone(&faults));
            tracker.spawn(run.instrument(tracing::info_span!("opcua_server")));
            publisher
        });
        let mut opcua_faults = config
            .opcua
            .as_ref()
            .and_then(|o| o.faults.as_deref())
            .map_or_else(FaultFile::none, FaultFile::new);
        tracker.close();
        tracing::info!(
            machines = config.machines,
            seed = config.seed,
            tick = %humantime::format_duration(config.tick),
            "plant running"
        );
        if config.tick.is_zero() {
            cancel.cancelled().await;
        } else {
            let mut interval = tokio::time::interval(config.tick);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            // The first tick completes immediately; tick 0 is already published.
            interval.tick().await;
            loop {
                tokio::select! {
                    () = cancel.cancelled() => break,
                    _ = interval.tick() => {
                        plant.step();
                        store.publish_unless(&plant, |m| faults.is_frozen(m));
                        if let Some(p) = &publisher {
                            opcua_faults.refresh();
                            p.publish(
                                &plant,
                                |m| faults.is_frozen(m) || opcua_faults.get(m).frozen,
                                |m| {
                                    opcua_faults.get(m).status.or_else(|| {
                                        faults
                                            .get(m)
                                            .unanswered()
                                            .then_some(StatusCode::BadNoCommunication)
                                    })
                                },
                                |m| faults.get(m).delay,
                            );
                        }
                        tracing::trace!(tick = plant.tick(), "plant stepped");
                    }
                }
            }
        }
        tracing::info!(tick = plant.tick(), "shutting down");
        if let Some(p) = &publisher {
            p.stop();
        }
        tracker.wait().await;
        tracing::info!("plant-sim stopped");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn config(machines: usize, tick: Duration) -> SimConfig {
        SimConfig {
            machines,
            seed: 5,
            listen: "127.0.0.1:0".parse().unwrap(),
            tick,
            map_out: None,
            control: None,
            faults: Vec::new(),
            opcua: None,
            served_log: None,
        }
    }

    #[tokio::test]
    async fn rejects_bad_machine_count_before_binding() {
        let err = PlantSim::start(config(0, Duration::ZERO))
            .await
            .unwrap_err();
        assert!(matches!(err, SimError::Plant(_)));
    }

    #[tokio::test]
    async fn writes_map_and_stops_on_cancel() {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = config(250, Duration::from_millis(10));
        cfg.map_out = Some(dir.path().join("map.toml"));
        let sim = PlantSim::start(cfg).await.unwrap();
        assert_eq!(sim.local_addrs().len(), 2);
        let map = crate::map_file::read_map(dir.path().join("map.toml")).unwrap();
        assert_eq!(map, sim.register_map());
        assert_eq!(map.tick_ms, 10);
        let addr = sim.modbus_addr();
        assert!(
            sim.ready_line()
                .starts_with(&format!("plant-sim ready modbus={addr} "))
        );
        assert!(sim.ready_line().ends_with(" machines=250 seed=5"));
        let cancel = CancellationToken::new();
        let task = tokio::spawn(sim.run(cancel.clone()));
        tokio::time::sleep(Duration::from_millis(50)).await;
        cancel.cancel();
        tokio::time::timeout(Duration::from_secs(5), task)
            .await
            .unwrap()
            .unwrap();
    }
}
