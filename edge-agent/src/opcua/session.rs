//! One OPC UA session: GetEndpoints, the endpoint matching the configured security policy
//! and mode, the secure channel and session, and the library's event loop driven in a task
//! of its own that reports when the connection is lost. The session is never reconnected
//! here: the device task (`device.rs`) drops it and builds a new one after a backoff delay.
//!
//! It also reads the server's operation limits (MaxNodesPerRead,
//! MaxMonitoredItemsPerCall), so reads and monitored-item creation are batched to fit.

use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use opcua::client::{Client, IdentityToken, Password, Session, SessionPollResult};
use opcua::crypto::SecurityPolicy;
use opcua::types::{
    DataValue, EndpointDescription, MessageSecurityMode, NodeId, ReadValueId, StatusCode,
    TimestampsToReturn, VariableId, Variant,
};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::settings::{Auth, Mode, OpcUaSource, Policy};
use super::status::status_name;

/// Why a connection attempt or a session failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SessionError {
    /// The server certificate is not trusted (advice on how to trust it included).
    #[error("{0}")]
    Untrusted(String),
    /// Connect, GetEndpoints, channel or session activation failed.
    #[error("connect to {endpoint} failed: {reason}")]
    Connect { endpoint: String, reason: String },
    /// The server offers no endpoint with the configured policy and mode.
    #[error("{endpoint} offers no endpoint with security {policy}/{mode}")]
    NoEndpoint {
        endpoint: String,
        policy: &'static str,
        mode: &'static str,
    },
    /// A bound expired.
    #[error("{what} timed out after {after:?}")]
    Timeout { what: &'static str, after: Duration },
    /// A service call failed (the connection is considered lost).
    #[error("{service} failed: {status}")]
    Service {
        service: &'static str,
        status: String,
    },
}

impl SessionError {
    /// The bad-quality reason for points while this error holds.
    pub(crate) fn reason(&self) -> String {
        match self {
            SessionError::Untrusted(_) => "server certificate not trusted".to_owned(),
            other => other.to_string(),
        }
    }
}

/// The server's operation limits (0 = no limit advertised).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Limits {
    pub(crate) max_nodes_per_read: usize,
    pub(crate) max_monitored_items_per_call: usize,
}

/// A live session and the task that drives it.
pub(crate) struct Connection {
    pub(crate) session: Arc<Session>,
    /// Receives the reason once when the connection is lost.
    pub(crate) lost: mpsc::Receiver<String>,
    driver: JoinHandle<()>,
}

impl Connection {
    /// Closes the session (bounded by `timeout`) and stops the driver.
    pub(crate) async fn close(self, timeout: Duration) {
        let _ = tokio::time::timeout(timeout, self.session.disconnect()).await;
        self.driver.abort();
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

fn policy(p: Policy) -> SecurityPolicy {
    match p {
        Policy::None => SecurityPolicy::None,
        Policy::Basic256Sha256 => SecurityPolicy::Basic256Sha256,
        Policy::Aes128Sha256RsaOaep => SecurityPolicy::Aes128Sha256RsaOaep,
        Policy::Aes256Sha256RsaPss => SecurityPolicy::Aes256Sha256RsaPss,
    }
}

pub(crate) fn mode(m: Mode) -> MessageSecurityMode {
    match m {
        Mode::None => MessageSecurityMode::None,
        Mode::Sign => MessageSecurityMode::Sign,
        Mode::SignAndEncrypt => MessageSecurityMode::SignAndEncrypt,
    }
}

fn identity(auth: &Auth) -> IdentityToken {
    match auth {
        Auth::Anonymous => IdentityToken::Anonymous,
        Auth::User { username, password } => {
            IdentityToken::UserName(username.clone(), Password::new(password.clone()))
        }
    }
}

/// Opens a session to `source`'s endpoint; the whole attempt is bounded by `timeout`.
pub(crate) async fn connect(
    client: &mut Client,
    source: &OpcUaSource,
    timeout: Duration,
) -> Result<Connection, SessionError> {
    match tokio::time::timeout(timeout, connect_inner(client, source)).await {
        Ok(r) => r,
        Err(_) => Err(SessionError::Timeout {
            what: "connect",
            after: timeout,
        }),
    }
}

async fn connect_inner(
    client: &mut Client,
    source: &OpcUaSource,
) -> Result<Connection, SessionError> {
    let url = source.endpoint.as_str();
    let connect_error = |reason: String| SessionError::Connect {
        endpoint: url.to_owned(),
        reason,
    };
    let endpoints = client
        .get_server_endpoints_from_url(url)
        .await
        .map_err(|e| connect_error(status_name(e.status())))?;
    let wanted_policy = policy(source.security.policy);
    let wanted_mode = mode(source.security.mode);
    let Some(endpoint) =
        Client::find_matching_endpoint(&endpoints, url, wanted_policy, wanted_mode)
    else {
        return Err(SessionError::NoEndpoint {
            endpoint: url.to_owned(),
            policy: source.security.policy.as_str(),
            mode: source.security.mode.as_str(),
        });
    };
    let endpoint: EndpointDescription = endpoint;
    let (session, event_loop) = client
        .connect_to_endpoint_directly(endpoint, identity(&source.auth))
        .map_err(|e| connect_error(e.to_string()))?;
    let (up_tx, mut up_rx) = mpsc::channel::<Result<(), StatusCode>>(1);
    let (lost_tx, lost) = mpsc::channel::<String>(1);
    let driver = tokio::spawn(async move {
        let stream = event_loop.enter();
        let mut stream = std::pin::pin!(stream);
        let mut up = false;
        while let Some(event) = stream.next().await {
            match event {
                Ok(SessionPollResult::Reconnected(_)) if !up => {
                    up = true;
                    let _ = up_tx.try_send(Ok(()));
                }
                Ok(SessionPollResult::ConnectionLost(code)) => {
                    let _ = lost_tx.try_send(format!("connection lost: {}", status_name(code)));
                    return;
                }
                Ok(_) => {}
                Err(code) => {
                    if up {
                        let _ = lost_tx.try_send(format!("connection lost: {}", status_name(code)));
                    } else {
                        let _ = up_tx.try_send(Err(code));
                    }
                    return;
                }
            }
        }
        let _ = lost_tx.try_send("session closed".to_owned());
    });
    match up_rx.recv().await {
        Some(Ok(())) => Ok(Connection {
            session,
            lost,
            driver,
        }),
        Some(Err(code)) if is_trust_failure(code) => {
            driver.abort();
            Err(SessionError::Untrusted(super::pki::untrusted_advice(
                &source.pki_dir,
            )))
        }
        Some(Err(code)) => {
            driver.abort();
            Err(connect_error(status_name(code)))
        }
        None => Err(connect_error("session event loop ended".to_owned())),
    }
}

fn is_trust_failure(code: StatusCode) -> bool {
    code == StatusCode::BadCertificateUntrusted
        || code == StatusCode::BadSecurityChecksFailed
        || code == StatusCode::BadCertificateInvalid
}

/// Reads the operation limits; a server that does not expose them gets "no limit".
pub(crate) async fn limits(session: &Session) -> Result<Limits, SessionError> {
    let ids = [
        VariableId::Server_ServerCapabilities_OperationLimits_MaxNodesPerRead,
        VariableId::Server_ServerCapabilities_OperationLimits_MaxMonitoredItemsPerCall,
    ];
    let nodes: Vec<ReadValueId> = ids.iter().map(|id| NodeId::from(*id).into()).collect();
    let values = session
        .read(&nodes, TimestampsToReturn::Neither, 0.0)
        .await
        .map_err(|e| SessionError::Service {
            service: "Read(OperationLimits)",
            status: status_name(e.status()),
        })?;
    let limit = |dv: Option<&DataValue>| match dv.and_then(|d| d.value.as_ref()) {
        Some(Variant::UInt32(n)) => *n as usize,
        _ => 0,
    };
    Ok(Limits {
        max_nodes_per_read: limit(values.first()),
        max_monitored_items_per_call: limit(values.get(1)),
    })
}

/// Splits `n` items into chunks of at most `limit` (0 = one chunk).
pub(crate) fn chunk_len(limit: usize, n: usize) -> usize {
    if limit == 0 { n.max(1) } else { limit }
}

#[cfg(test)]
mod tests {
    use super::chunk_len;

    #[test]
    fn zero_limit_means_one_chunk() {
        assert_eq!(chunk_len(0, 7), 7);
        assert_eq!(chunk_len(0, 0), 1);
        assert_eq!(chunk_len(3, 7), 3);
    }
}
