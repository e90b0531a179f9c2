//! A broker that refuses our subscription: the aggregator reports ingest `down` in
//! `/api/v1/health` and subscribes again (only the refused filter) until it is granted.
//!
//! Real brokers refuse through ACLs that are awkward to switch at run time, so this uses a
//! scriptable fake MQTT 3.1.1 broker on 127.0.0.1 port 0 that answers CONNECT, SUBSCRIBE
//! (refusing the status filter the first time), PINGREQ and DISCONNECT.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aggregator::config::{self, Overrides};
use common::harness::{Api, eventually, start};
use common::within;
use protocols::topic::FILTER_ALL_STATUS;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Filters of every SUBSCRIBE received, in order.
type Seen = Arc<Mutex<Vec<Vec<String>>>>;

async fn read_packet(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let kind = s.read_u8().await.ok()?;
    let (mut len, mut shift) = (0usize, 0);
    loop {
        let b = s.read_u8().await.ok()?;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let mut body = vec![0; len];
    s.read_exact(&mut body).await.ok()?;
    Some((kind, body))
}

fn filters(body: &[u8]) -> Vec<(String, u8)> {
    let mut out = Vec::new();
    let mut rest = &body[2..]; // packet id
    while rest.len() >= 3 {
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        out.push((
            String::from_utf8_lossy(&rest[2..2 + n]).into_owned(),
            rest[2 + n],
        ));
        rest = &rest[3 + n..];
    }
    out
}

async fn serve(mut s: TcpStream, seen: Seen) {
    while let Some((kind, body)) = read_packet(&mut s).await {
        let reply = match kind >> 4 {
            1 => vec![0x20, 0x02, 0x00, 0x00], // CONNACK, accepted
            8 => {
                let asked = filters(&body);
                let first = {
                    let mut seen = seen.lock().unwrap();
                    seen.push(asked.iter().map(|(f, _)| f.clone()).collect());
                    seen.len() == 1
                };
                let mut suback = vec![
                    0x90,
                    u8::try_from(2 + asked.len()).unwrap(),
                    body[0],
                    body[1],
                ];
                for (f, qos) in &asked {
                    suback.push(if first && f == FILTER_ALL_STATUS {
                        0x80
                    } else {
                        *qos
                    });
                }
                suback
            }
            12 => vec![0xd0, 0x00], // PINGRESP
            14 => return,           // DISCONNECT
            _ => continue,
        };
        if s.write_all(&reply).await.is_err() {
            return;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_subscription_is_retried_and_reported_until_granted() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Seen::default();
    let broker = tokio::spawn({
        let seen = seen.clone();
        async move {
            while let Ok((s, _)) = listener.accept().await {
                tokio::spawn(serve(s, seen.clone()));
            }
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let overrides = Overrides {
        data_dir: Some(dir.path().to_path_buf()),
        api_listen: Some("127.0.0.1:0".into()),
        mqtt_url: Some(format!("mqtt://127.0.0.1:{port}")),
        ..Overrides::default()
    };
    let app = within("start", start(config::load(None, &overrides).unwrap())).await;
    let api = Api::new(app.api_addr());

    let (code, body) = api.get("/api/v1/health").await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        (&body["status"], &body["ingest"], &body["broker_connected"]),
        (
            &serde_json::json!("degraded"),
            &serde_json::json!("down"),
            &serde_json::json!(true)
        ),
        "{body}"
    );

    // The first retry comes after 5..10 s.
    eventually("subscription granted", Duration::from_secs(20), || async {
        api.get("/api/v1/health").await.0 == 200
    })
    .await;
    let (_, body) = api.get("/api/v1/health").await;
    assert_eq!(body["ingest"], "ok", "{body}");
    let subscribes = seen.lock().unwrap().clone();
    assert_eq!(subscribes.len(), 2, "{subscribes:?}");
    assert_eq!(subscribes[0].len(), 3, "{subscribes:?}");
    assert_eq!(
        subscribes[1],
        [FILTER_ALL_STATUS],
        "only the refused filter again"
    );
    assert!(within("shutdown", app.shutdown()).await);
    broker.abort();
}
