//! The agent's optional Prometheus endpoint (`[agent] metrics_listen`): `GET /metrics`
//! answers every counter of [`Metrics`] in the text exposition format; anything else is a
//! 404. A deliberately small HTTP/1.1 server (one request per connection, `Connection:
//! close`, request head capped at [`MAX_HEAD`] bytes, 5 s to send it): the agent has no web
//! framework and a scrape needs nothing more. A listener that cannot bind is logged at error
//! and the agent runs on without it: losing the scrape must not stop data collection.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::metrics::{Metrics, MetricsSnapshot};

/// Largest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
/// Time a client has to send its request head.
const READ_TIMEOUT: Duration = Duration::from_secs(5);

/// `(name, help, kind, value)` of every exported series.
fn series(s: &MetricsSnapshot) -> [(&'static str, &'static str, &'static str, u64); 25] {
    [
        ("polls_total", "Device poll cycles", "counter", s.polls),
        (
            "poll_overruns_total",
            "Poll cycles that took longer than the interval",
            "counter",
            s.overruns,
        ),
        (
            "requests_total",
            "Protocol requests sent",
            "counter",
            s.requests,
        ),
        (
            "request_timeouts_total",
            "Requests that timed out",
            "counter",
            s.request_timeouts,
        ),
        (
            "request_transport_errors_total",
            "Requests that failed on the transport",
            "counter",
            s.request_transport_errors,
        ),
        (
            "request_protocol_errors_total",
            "Responses that did not match their request",
            "counter",
            s.request_protocol_errors,
        ),
        (
            "request_exceptions_total",
            "Requests answered with a device exception",
            "counter",
            s.request_exceptions,
        ),
        (
            "connect_errors_total",
            "Failed device connection attempts",
            "counter",
            s.connect_errors,
        ),
        (
            "points_total",
            "Points produced (good and bad)",
            "counter",
            s.points,
        ),
        (
            "batches_published_total",
            "Batches handed to the MQTT client",
            "counter",
            s.batches_published,
        ),
        (
            "batches_resent_total",
            "Backlog batches sent as historical",
            "counter",
            s.batches_resent,
        ),
        (
            "batches_acked_total",
            "Batches acknowledged by the broker",
            "counter",
            s.batches_acked,
        ),
        (
            "batches_dropped_channel_total",
            "Batches dropped: forwarder channel full",
            "counter",
            s.batches_dropped_channel,
        ),
        (
            "batches_dropped_closed_total",
            "Batches dropped: forwarder stopped",
            "counter",
            s.batches_dropped_closed,
        ),
        (
            "points_dropped_channel_total",
            "Points in batches dropped by the channel",
            "counter",
            s.points_dropped_channel,
        ),
        (
            "batches_dropped_spool_total",
            "Batches discarded by a spool limit",
            "counter",
            s.batches_dropped_spool,
        ),
        (
            "points_dropped_spool_total",
            "Points in batches discarded by a spool limit",
            "counter",
            s.points_dropped_spool,
        ),
        (
            "batches_dropped_unconfirmed_total",
            "Discarded batches that had been published without a PUBACK (possibly delivered)",
            "counter",
            s.batches_dropped_unconfirmed,
        ),
        (
            "spool_errors_total",
            "Spool file operations that failed",
            "counter",
            s.spool_errors,
        ),
        (
            "encode_errors_total",
            "Batches that could not be encoded",
            "counter",
            s.encode_errors,
        ),
        (
            "spool_batches",
            "Batches in the spool not yet acknowledged",
            "gauge",
            s.buffered,
        ),
        (
            "spool_bytes",
            "Bytes of records retained in the spool",
            "gauge",
            s.spool_bytes,
        ),
        (
            "writes_ok_total",
            "Write commands executed",
            "counter",
            s.writes_ok,
        ),
        (
            "writes_rejected_total",
            "Write commands rejected before writing",
            "counter",
            s.writes_rejected,
        ),
        (
            "writes_failed_total",
            "Write commands the device did not complete",
            "counter",
            s.writes_failed,
        ),
    ]
}

/// The counters in the Prometheus text format, names prefixed `sentia_agent_`.
pub fn render(metrics: &Metrics) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(4096);
    for (name, help, kind, value) in series(&metrics.snapshot()) {
        let _ = writeln!(out, "# HELP sentia_agent_{name} {help}");
        let _ = writeln!(out, "# TYPE sentia_agent_{name} {kind}");
        let _ = writeln!(out, "sentia_agent_{name} {value}");
    }
    out
}

/// Binds `addr` and serves until `cancel` fires (module docs).
pub async fn serve(addr: SocketAddr, metrics: Arc<Metrics>, cancel: CancellationToken) {
    let listener = match TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(err) => {
            tracing::error!(%addr, %err, "cannot serve metrics ([agent] metrics_listen); running without");
            return;
        }
    };
    let bound = listener.local_addr().map_or(addr, |a| a);
    tracing::info!(addr = %bound, "serving Prometheus metrics at /metrics");
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(answer(stream, Arc::clone(&metrics)));
                }
                Err(err) => {
                    tracing::debug!(%err, "metrics accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
        }
    }
}

/// Reads one request head and answers it.
async fn answer(mut stream: TcpStream, metrics: Arc<Metrics>) {
    let mut head = Vec::with_capacity(512);
    let mut buf = [0u8; 1024];
    let read = tokio::time::timeout(READ_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return false,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        true
    })
    .await;
    if !matches!(read, Ok(true)) {
        return;
    }
    let line = head.split(|b| *b == b'\r').next().unwrap_or_default();
    let (status, kind, body) = match route(line) {
        Route::Metrics => (
            "200 OK",
            "text/plain; version=0.0.4; charset=utf-8",
            render(&metrics),
        ),
        Route::NotFound => (
            "404 Not Found",
            "text/plain; charset=utf-8",
            "only GET /metrics\n".to_owned(),
        ),
    };
    let response = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Metrics,
    NotFound,
}

/// The route of a request line (`GET /metrics HTTP/1.1`; a query string is ignored).
fn route(line: &[u8]) -> Route {
    let line = String::from_utf8_lossy(line);
    let mut parts = line.split(' ');
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) if path.split('?').next() == Some("/metrics") => Route::Metrics,
        _ => Route::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_rendering() {
        assert_eq!(route(b"GET /metrics HTTP/1.1"), Route::Metrics);
        assert_eq!(route(b"GET /metrics?x=1 HTTP/1.1"), Route::Metrics);
        assert_eq!(route(b"POST /metrics HTTP/1.1"), Route::NotFound);
        assert_eq!(route(b"GET / HTTP/1.1"), Route::NotFound);
        let m = Metrics::default();
        crate::metrics::add(&m.points, 42);
        let text = render(&m);
        assert!(
            text.contains(
                "# TYPE sentia_agent_points_total counter\nsentia_agent_points_total 42\n"
            ),
            "{text}"
        );
        assert!(
            text.contains("# TYPE sentia_agent_spool_bytes gauge"),
            "{text}"
        );
        assert_eq!(text.lines().filter(|l| !l.starts_with('#')).count(), 25);
    }
}
