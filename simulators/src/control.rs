//! The fault-injection control socket (`--control 127.0.0.1:0`): a line protocol over TCP.
//! Each line is one [`Command`](crate::faults::Command); the answer is one line, `ok` or
//! `error <reason>`. Lines longer than [`MAX_LINE`] bytes close the connection. Meant for
//! tests and demos on loopback; there is no authentication.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::faults::Faults;

/// Longest command line accepted.
pub const MAX_LINE: usize = 256;

/// Serves control connections until `cancel` fires.
pub async fn serve(listener: TcpListener, faults: Arc<Faults>, cancel: CancellationToken) {
    let tracker = TaskTracker::new();
    loop {
        tokio::select! {
            () = cancel.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    tracker.spawn(connection(stream, peer, Arc::clone(&faults), cancel.clone()));
                }
                Err(err) => tracing::warn!(%err, "control accept failed"),
            },
        }
    }
    tracker.close();
    tracker.wait().await;
}

async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    faults: Arc<Faults>,
    cancel: CancellationToken,
) {
    let (read, mut write) = stream.into_split();
    let mut lines = BufReader::new(read);
    let mut line = String::new();
    loop {
        line.clear();
        let mut bounded = (&mut lines).take(MAX_LINE as u64 + 1);
        let n = tokio::select! {
            () = cancel.cancelled() => return,
            n = bounded.read_line(&mut line) => n,
        };
        match n {
            Ok(0) | Err(_) => return,
            Ok(_) if line.len() > MAX_LINE => {
                let _ = write.write_all(b"error line too long\n").await;
                return;
            }
            Ok(_) => {}
        }
        if line.trim().is_empty() {
            continue;
        }
        let reply = match faults.apply_line(&line) {
            Ok(()) => "ok\n".to_owned(),
            Err(e) => format!("error {e}\n"),
        };
        if write.write_all(reply.as_bytes()).await.is_err() {
            tracing::debug!(%peer, "control connection closed");
            return;
        }
    }
}
