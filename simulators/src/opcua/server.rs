//! Binding, building and running the OPC UA server, and publishing plant values into it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use opcua::crypto::SecurityPolicy;
use opcua::server::address_space::{Variable, VariableBuilder};
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{
    InMemoryNodeManager, SimpleNodeManager, SimpleNodeManagerImpl, simple_node_manager,
};
use opcua::server::{
    ANONYMOUS_USER_TOKEN_ID, Server, ServerBuilder, ServerHandle, ServerUserToken,
};
use opcua::types::{
    DataTypeId, DataValue, ExtensionObject, MessageSecurityMode, NodeId, QualifiedName, Range,
    StatusCode, VariableTypeId, Variant,
};
use tokio::net::TcpListener;

use crate::faults::Faults;
use crate::plant::{DataType, EngValue, Plant, SignalDef};

/// The namespace of the plant's nodes.
pub const NAMESPACE_URI: &str = "urn:sentia:plant-sim:machines";
/// The application URI in the server certificate.
const APPLICATION_URI: &str = "urn:sentia:plant-sim";
/// User token id of the password user.
const USER_TOKEN_ID: &str = "plant-user";

/// Every endpoint: id, policy, mode.
const ENDPOINTS: [(&str, SecurityPolicy, MessageSecurityMode); 7] = [
    ("none", SecurityPolicy::None, MessageSecurityMode::None),
    (
        "basic256sha256_sign",
        SecurityPolicy::Basic256Sha256,
        MessageSecurityMode::Sign,
    ),
    (
        "basic256sha256_sign_encrypt",
        SecurityPolicy::Basic256Sha256,
        MessageSecurityMode::SignAndEncrypt,
    ),
    (
        "aes128_sign",
        SecurityPolicy::Aes128Sha256RsaOaep,
        MessageSecurityMode::Sign,
    ),
    (
        "aes128_sign_encrypt",
        SecurityPolicy::Aes128Sha256RsaOaep,
        MessageSecurityMode::SignAndEncrypt,
    ),
    (
        "aes256_sign",
        SecurityPolicy::Aes256Sha256RsaPss,
        MessageSecurityMode::Sign,
    ),
    (
        "aes256_sign_encrypt",
        SecurityPolicy::Aes256Sha256RsaPss,
        MessageSecurityMode::SignAndEncrypt,
    ),
];

/// How the OPC UA server runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpcUaSettings {
    /// Listen address (port 0: ephemeral).
    pub listen: SocketAddr,
    /// PKI directory (own/, private/, trusted/, rejected/).
    pub pki_dir: PathBuf,
    /// The fault file (see [`super::faults`]), if any.
    pub faults: Option<PathBuf>,
    /// The password user.
    pub user: String,
    /// Its password.
    pub password: String,
}

/// Why the OPC UA server could not start.
#[derive(Debug, thiserror::Error)]
pub enum OpcUaError {
    /// Binding the listener failed.
    #[error("cannot bind the OPC UA listener on {addr}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// async-opcua refused the configuration.
    #[error("invalid OPC UA server configuration: {0}")]
    Build(String),
}

/// A bound, built server whose address space holds the plant.
pub struct OpcUaServer {
    server: Server,
    handle: ServerHandle,
    /// The public listener (the relay, see `super::proxy`).
    listener: TcpListener,
    /// The server's own listener, reached only through the relay.
    inner: TcpListener,
    machines: usize,
    addr: SocketAddr,
    namespace: u16,
    manager: Arc<InMemoryNodeManager<SimpleNodeManagerImpl>>,
}

impl std::fmt::Debug for OpcUaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpcUaServer")
            .field("addr", &self.addr)
            .field("namespace", &self.namespace)
            .finish_non_exhaustive()
    }
}

/// The node id string of `signal` on machine `machine` in namespace `ns`.
pub fn node_id(ns: u16, machine: &str, signal: &str) -> String {
    format!("ns={ns};s={machine}.{signal}")
}

fn variant(v: EngValue) -> Variant {
    match v {
        EngValue::Bool(b) => Variant::Boolean(b),
        EngValue::Int(i) => Variant::Int64(i),
        EngValue::Float(f) => Variant::Double(f),
    }
}

/// The EURange of an integer-encoded analog signal: its register's raw range in engineering
/// units (raw * scale + offset), which is what the register map allows. Booleans and floats
/// (whose raw range is meaningless) have none.
pub fn eu_range(def: &SignalDef) -> Option<(f64, f64)> {
    let (lo, hi) = match def.data_type {
        DataType::U16 => (0.0, f64::from(u16::MAX)),
        DataType::I16 => (f64::from(i16::MIN), f64::from(i16::MAX)),
        DataType::U32 => (0.0, f64::from(u32::MAX)),
        DataType::I32 => (f64::from(i32::MIN), f64::from(i32::MAX)),
        DataType::Bool | DataType::F32 => return None,
    };
    let (a, b) = (lo * def.scale + def.offset, hi * def.scale + def.offset);
    Some((a.min(b), a.max(b)))
}

impl OpcUaServer {
    /// Binds the listener, builds the server (certificate created if missing) and adds one
    /// object per machine.
    pub async fn bind(settings: &OpcUaSettings, plant: &Plant) -> Result<Self, OpcUaError> {
        let listener =
            TcpListener::bind(settings.listen)
                .await
                .map_err(|source| OpcUaError::Bind {
                    addr: settings.listen,
                    source,
                })?;
        let addr = listener.local_addr().map_err(|source| OpcUaError::Bind {
            addr: settings.listen,
            source,
        })?;
        let inner = TcpListener::bind((addr.ip(), 0))
            .await
            .map_err(|source| OpcUaError::Bind {
                addr: settings.listen,
                source,
            })?;
        let host = addr.ip().to_string();
        let user_ids = [ANONYMOUS_USER_TOKEN_ID, USER_TOKEN_ID];
        let mut builder = ServerBuilder::new()
            .application_name("Sentia plant-sim")
            .application_uri(APPLICATION_URI)
            .product_uri("urn:sentia")
            .create_sample_keypair(true)
            .pki_dir(&settings.pki_dir)
            .trust_client_certs(true)
            .host(host.clone())
            .port(addr.port())
            .discovery_urls(vec![format!("opc.tcp://{host}:{}/", addr.port())])
            .add_user_token(
                USER_TOKEN_ID,
                ServerUserToken {
                    user: settings.user.clone(),
                    pass: Some(settings.password.clone()),
                    ..Default::default()
                },
            )
            .with_node_manager(simple_node_manager(
                NamespaceMetadata {
                    namespace_uri: NAMESPACE_URI.to_owned(),
                    ..Default::default()
                },
                "plant",
            ));
        for (id, policy, mode) in ENDPOINTS {
            builder = builder.add_endpoint(id, ("/", policy, mode, &user_ids as &[&str]));
        }
        let (server, handle) = builder.build().map_err(OpcUaError::Build)?;
        let manager = handle
            .node_managers()
            .get_of_type::<SimpleNodeManager>()
            .ok_or_else(|| OpcUaError::Build("no plant node manager".to_owned()))?;
        let namespace = handle
            .get_namespace_index(NAMESPACE_URI)
            .ok_or_else(|| OpcUaError::Build("plant namespace not registered".to_owned()))?;
        {
            let mut space = manager.address_space().write();
            for info in plant.machines() {
                let object = NodeId::new(namespace, info.id());
                space.add_folder(&object, info.id(), info.id(), &NodeId::objects_folder_id());
                let variables = info
                    .kind()
                    .signals()
                    .iter()
                    .filter_map(|def| {
                        let value = plant.engineering_value(info.index(), def.name)?;
                        let id = NodeId::new(namespace, format!("{}.{}", info.id(), def.name));
                        Some(Variable::new(&id, def.name, def.name, variant(value)))
                    })
                    .collect();
                space.add_variables(variables, &object);
                for def in info.kind().signals() {
                    let Some((low, high)) = eu_range(def) else {
                        continue;
                    };
                    let var = NodeId::new(namespace, format!("{}.{}", info.id(), def.name));
                    let prop =
                        NodeId::new(namespace, format!("{}.{}.EURange", info.id(), def.name));
                    VariableBuilder::new(&prop, QualifiedName::new(0, "EURange"), "EURange")
                        .property_of(var)
                        .has_type_definition(VariableTypeId::PropertyType)
                        .data_type(DataTypeId::Range)
                        .value(Variant::ExtensionObject(ExtensionObject::from_message(
                            Range { low, high },
                        )))
                        .insert(&mut *space);
                }
            }
        }
        Ok(Self {
            server,
            handle,
            listener,
            inner,
            machines: plant.machines().count(),
            addr,
            namespace,
            manager,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The endpoint URL clients use.
    pub fn endpoint_url(&self) -> String {
        format!("opc.tcp://{}/", self.addr)
    }

    /// Namespace index of the plant's nodes.
    pub fn namespace(&self) -> u16 {
        self.namespace
    }

    /// Splits into the serving future (the server and its relay, which applies `faults`'
    /// `disconnect`) and a publisher of plant values.
    pub fn into_parts(self, faults: Arc<Faults>) -> (Publisher, impl Future<Output = ()>) {
        let publisher = Publisher {
            handle: self.handle.clone(),
            manager: self.manager,
            namespace: self.namespace,
            written: Arc::default(),
        };
        let handle = self.handle;
        let server = self.server;
        let listener = self.listener;
        let inner = self.inner;
        let machines = self.machines;
        let run = async move {
            let relay = match inner.local_addr() {
                Ok(addr) => Some(super::proxy::relay(
                    listener,
                    addr,
                    handle.clone(),
                    faults,
                    machines,
                )),
                Err(e) => {
                    tracing::error!(error = %e, "OPC UA relay has no server address");
                    None
                }
            };
            let serve = async {
                if let Err(e) = server.run_with(inner).await {
                    tracing::error!(error = %e, "OPC UA server stopped with an error");
                }
            };
            match relay {
                Some(relay) => {
                    tokio::join!(serve, relay);
                }
                None => serve.await,
            }
            drop(handle);
        };
        (publisher, run)
    }
}

/// Writes plant values into the address space (and so to subscribers).
#[derive(Clone)]
pub struct Publisher {
    handle: ServerHandle,
    manager: Arc<InMemoryNodeManager<SimpleNodeManagerImpl>>,
    namespace: u16,
    /// When each machine's last written values were sampled: a delayed batch older than
    /// what is already written (the delay was shortened meanwhile) is dropped.
    written: Arc<Mutex<HashMap<usize, Instant>>>,
}

/// One machine's values sampled at one tick.
type Batch = (usize, Vec<(NodeId, DataValue)>);

impl Publisher {
    /// Publishes every signal of every machine at the plant's current tick, except the
    /// machines `frozen` names; a machine for which `status` gives a code gets its values
    /// with that status. A machine for which `delay` is not zero has its values sampled now
    /// (source timestamp: now) but written into the address space, and so seen by Reads and
    /// subscriptions, only that much later (never over values sampled later).
    pub fn publish(
        &self,
        plant: &Plant,
        frozen: impl Fn(usize) -> bool,
        status: impl Fn(usize) -> Option<StatusCode>,
        delay: impl Fn(usize) -> Duration,
    ) {
        let sampled = Instant::now();
        let mut now: Vec<Batch> = Vec::new();
        let mut later: HashMap<Duration, Vec<Batch>> = HashMap::new();
        for info in plant.machines().filter(|info| !frozen(info.index())) {
            let status = status(info.index());
            let delay = delay(info.index());
            let values = info
                .kind()
                .signals()
                .iter()
                .filter_map(|def| {
                    let value = variant(plant.engineering_value(info.index(), def.name)?);
                    Some((
                        NodeId::new(self.namespace, format!("{}.{}", info.id(), def.name)),
                        match status {
                            Some(status) => DataValue::new_now_status(value, status),
                            None => DataValue::new_now(value),
                        },
                    ))
                })
                .collect();
            if delay.is_zero() {
                now.push((info.index(), values));
            } else {
                later.entry(delay).or_default().push((info.index(), values));
            }
        }
        self.write(sampled, now);
        for (delay, batches) in later {
            let publisher = self.clone();
            let cancelled = self.handle.token().clone();
            tokio::spawn(async move {
                tokio::select! {
                    () = cancelled.cancelled() => {}
                    () = tokio::time::sleep(delay) => publisher.write(sampled, batches),
                }
            });
        }
    }

    /// Writes the batches sampled at `sampled`, except those of machines whose written
    /// values are newer.
    fn write(&self, sampled: Instant, batches: Vec<Batch>) {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let values: Vec<(NodeId, DataValue)> = batches
            .into_iter()
            .filter(|(machine, _)| {
                let fresh = written.get(machine).is_none_or(|last| *last <= sampled);
                if fresh {
                    written.insert(*machine, sampled);
                }
                fresh
            })
            .flat_map(|(_, values)| values)
            .collect();
        if values.is_empty() {
            return;
        }
        let result = self.manager.set_values(
            self.handle.subscriptions(),
            values.iter().map(|(id, dv)| (id, None, dv.clone())),
        );
        if let Err(e) = result {
            tracing::warn!(error = %e, "OPC UA value update failed");
        }
    }

    /// Stops the server (clients see the connection close).
    pub fn stop(&self) {
        self.handle.cancel();
    }
}
