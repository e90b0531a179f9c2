//! A malformed payload on a data topic is counted and dropped; everything else keeps flowing.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use rumqttc::{AsyncClient, MqttOptions, QoS};
use tests::stack::{Stack, StackOptions};

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split([' ', '{']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_payloads_are_counted_and_dropped() {
    let stack = Stack::start(StackOptions {
        machines: 3,
        ..Default::default()
    })
    .await
    .unwrap();
    let result = tokio::time::timeout(Duration::from_secs(60), async {
        let api = stack.api.clone();
        let stored_before = api
            .wait_for("points stored", Duration::from_secs(30), |api| async move {
                let (_, m) = api.get_raw("/metrics").await?;
                let n = metric(&m, "sentia_points_stored_total");
                Ok((n > 0.0).then_some(n))
            })
            .await?;

        let broker = stack.opts.broker.trim_start_matches("mqtt://").to_owned();
        let (host, port) = broker.rsplit_once(':').unwrap();
        let mut opts = MqttOptions::new("malformed-injector", host, port.parse()?);
        opts.set_keep_alive(Duration::from_secs(5));
        let (client, mut events) = AsyncClient::new(opts, 16);
        let asset = stack.asset(&stack.map.entries[0]);
        let topic = format!("sentia/v1/data/{}/{asset}", stack.opts.agent_id);
        let junk: [&[u8]; 3] = [
            b"not a batch",
            b"SNT\x01\x01\xff\xff",
            b"{\"v\":1,\"kind\":\"batch\"}",
        ];
        for payload in junk {
            client
                .publish(&topic, QoS::AtLeastOnce, false, payload.to_vec())
                .await?;
        }
        let mut acked = 0;
        while acked < junk.len() {
            if let rumqttc::Event::Incoming(rumqttc::Packet::PubAck(_)) =
                tokio::time::timeout(Duration::from_secs(10), events.poll()).await??
            {
                acked += 1;
            }
        }
        api.wait_for(
            "3 decode errors counted",
            Duration::from_secs(20),
            |api| async move {
                let (_, m) = api.get_raw("/metrics").await?;
                let errors = metric(&m, "sentia_decode_errors_total");
                anyhow::ensure!(errors <= 3.0, "more decode errors than injected: {errors}");
                Ok((errors == 3.0).then_some(()))
            },
        )
        .await?;
        // Good data keeps being stored after the junk.
        api.wait_for(
            "more points stored",
            Duration::from_secs(20),
            |api| async move {
                let (_, m) = api.get_raw("/metrics").await?;
                Ok((metric(&m, "sentia_points_stored_total") > stored_before).then_some(()))
            },
        )
        .await
    })
    .await;
    match result {
        Ok(Ok(())) => {}
        Ok(Err(e)) => panic!("{e:#}\n{}", stack.logs()),
        Err(_) => panic!("test timed out\n{}", stack.logs()),
    }
}
