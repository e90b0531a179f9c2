//! A TCP proxy the test controls, in front of a broker: [`Proxy::cut`] is the network cut
//! between agent and broker (every live connection dropped, new ones closed at once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A TCP proxy on 127.0.0.1 port 0 in front of `upstream`. [`Proxy::cut`] drops every live
/// connection and makes new ones close at once; [`Proxy::restore`] lets them through again.
pub struct Proxy {
    /// Where the agent connects instead of the broker.
    pub addr: SocketAddr,
    open: Arc<AtomicBool>,
    generation: Arc<watch::Sender<u64>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Starts the proxy in front of `upstream` (`host:port`).
    pub async fn start(upstream: String) -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let open = Arc::new(AtomicBool::new(true));
        let generation = Arc::new(watch::channel(0u64).0);
        let accept = tokio::spawn({
            let open = open.clone();
            let generation = generation.clone();
            async move {
                loop {
                    let Ok((mut client, _)) = listener.accept().await else {
                        continue;
                    };
                    // Subscribe before looking at `open`: a cut between the two is then
                    // either seen as closed or as a change of generation, never missed.
                    let mut cut = generation.subscribe();
                    if !open.load(Ordering::SeqCst) {
                        drop(client);
                        continue;
                    }
                    let upstream = upstream.clone();
                    tokio::spawn(async move {
                        let connect = TcpStream::connect(&upstream);
                        let Ok(Ok(mut server)) =
                            tokio::time::timeout(Duration::from_secs(5), connect).await
                        else {
                            return;
                        };
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = cut.changed() => {}
                        }
                    });
                }
            }
        });
        Ok(Self {
            addr,
            open,
            generation,
            accept,
        })
    }

    /// Drops every live connection and refuses new ones.
    pub fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        self.generation.send_modify(|g| *g += 1);
    }

    /// Lets connections through again.
    pub fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.cut();
    }
}
