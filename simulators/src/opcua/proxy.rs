//! The `disconnect` fault over OPC UA. One endpoint serves every machine and async-opcua
//! offers no way to close chosen sessions, so clients reach the server through a TCP relay
//! on the public address: while any machine is disconnected the relay cuts every relayed
//! connection and closes new ones as soon as they are accepted; after `clear` it relays
//! again. Clients see a real connection loss (all of them: a disconnect of one machine
//! drops the whole server, since every machine shares it).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use opcua::server::ServerHandle;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::faults::Faults;

/// How often a relayed connection checks for a disconnect.
const CHECK: Duration = Duration::from_millis(100);
/// Bound on connecting to the inner server.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a `disconnect` is active for any of `machines`.
fn cut(faults: &Faults, machines: usize) -> bool {
    faults.any_disconnected(0..machines)
}

/// Relays `public` to the server on `inner` until `cancel`; see the module docs. Waits for
/// the server to record its (inner) port, then records the public one, so the endpoint
/// URLs it hands out name the relay.
pub(super) async fn relay(
    public: TcpListener,
    inner: SocketAddr,
    handle: ServerHandle,
    faults: Arc<Faults>,
    machines: usize,
) {
    let cancel = handle.token().clone();
    let port = handle.info().port.load(Ordering::Relaxed);
    let mut waited = Duration::ZERO;
    while handle.info().port.load(Ordering::Relaxed) != inner.port() && waited < CONNECT_TIMEOUT {
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    let public_port = public.local_addr().map_or(port, |a| a.port());
    handle.info().port.store(public_port, Ordering::Relaxed);
    loop {
        let (client, peer) = tokio::select! {
            () = cancel.cancelled() => return,
            accepted = public.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!(error = %e, "OPC UA accept failed");
                    tokio::time::sleep(CHECK).await;
                    continue;
                }
            },
        };
        if cut(&faults, machines) {
            tracing::info!(%peer, "OPC UA connection refused: disconnect fault");
            drop(client);
            continue;
        }
        tokio::spawn(connection(
            client,
            peer,
            inner,
            Arc::clone(&faults),
            machines,
            cancel.clone(),
        ));
    }
}

async fn connection(
    mut client: TcpStream,
    peer: SocketAddr,
    inner: SocketAddr,
    faults: Arc<Faults>,
    machines: usize,
    cancel: CancellationToken,
) {
    let mut server = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(inner)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(%peer, error = %e, "OPC UA relay cannot reach the server");
            return;
        }
        Err(_) => {
            tracing::warn!(%peer, "OPC UA relay: server connect timed out");
            return;
        }
    };
    let mut check = tokio::time::interval(CHECK);
    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
    tokio::pin!(copy);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = &mut copy => return,
            _ = check.tick() => {
                if cut(&faults, machines) {
                    tracing::info!(%peer, "OPC UA connection dropped: disconnect fault");
                    return;
                }
            }
        }
    }
}
