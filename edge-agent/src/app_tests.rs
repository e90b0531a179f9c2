//! The app's supervision of the forwarder, with stand-in forwarders (no broker needed) and
//! real pollers against a closed port on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use super::*;

/// Settings with the spool in a fresh temporary directory (kept alive by the caller).
async fn settings() -> (Settings, tempfile::TempDir) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let text = format!(
        "[agent]\nid = \"app-test\"\nshutdown_grace = \"500ms\"\n[mqtt]\nbroker = \"mqtt://127.0.0.1:1\"\n\
         [[device]]\nid = \"d\"\nasset = \"s/a/l/d\"\nprotocol = \"modbus-tcp\"\nhost = \"127.0.0.1\"\nport = {port}\n\
         unit_id = 1\npoll_interval = \"20ms\"\n[[device.tag]]\nname = \"t\"\nregister = \"holding\"\n\
         address = 0\ntype = \"u16\"\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let mut settings = crate::config::parse(&text, "app-test.toml").unwrap();
    settings.spool.dir = dir.path().join("spool");
    settings.agent.data_dir = dir.path().to_owned();
    (settings, dir)
}

async fn within<T>(what: &str, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(5), fut)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

/// Lets a few batches through, then stops the way `stop` says; returns what the agent did.
async fn forwarder_dies(
    stop: impl FnOnce() -> Result<(), ForwardError> + Send + 'static,
) -> (Result<(), AgentError>, AgentHandle) {
    let shutdown = CancellationToken::new();
    let (settings, _dir) = settings().await;
    let (handle, agent) = start_with(settings, shutdown.clone(), |_, _, _, mut rx, _| {
        async move {
            for _ in 0..3 {
                rx.recv().await;
            }
            // Gone, but the task lingers: pollers meet a closed channel meanwhile.
            drop(rx);
            tokio::time::sleep(Duration::from_millis(100)).await;
            stop()
        }
    });
    let result = within("agent stops on its own", agent).await;
    assert!(!shutdown.is_cancelled());
    (result, handle)
}

#[tokio::test]
async fn forwarder_error_stops_the_agent_and_the_pollers() {
    let (result, handle) = forwarder_dies(|| Err(ForwardError::EventLoopStopped)).await;
    assert!(
        matches!(
            result,
            Err(AgentError::Forwarder(ForwardError::EventLoopStopped))
        ),
        "{result:?}"
    );
    // Batches that met the closed channel are counted as dropped, not silently discarded.
    let m = handle.metrics.snapshot();
    assert!(m.batches_dropped_closed > 0, "{m:?}");
    assert_eq!(m.batches_dropped(), m.batches_dropped_closed, "{m:?}");
    // The pollers have stopped: no more cycles.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(handle.metrics.snapshot().polls, m.polls);
}

#[tokio::test]
async fn forwarder_panic_or_early_return_stops_the_agent() {
    let (result, _) = forwarder_dies(|| panic!("forwarder bug")).await;
    match result {
        Err(AgentError::ForwarderTask(e)) => assert!(e.is_panic()),
        other => panic!("{other:?}"),
    }
    let (result, _) = forwarder_dies(|| Ok(())).await;
    assert!(
        matches!(result, Err(AgentError::ForwarderStopped)),
        "{result:?}"
    );
}

#[tokio::test]
async fn shutdown_stops_pollers_before_the_forwarder() {
    let shutdown = CancellationToken::new();
    let (settings, _dir) = settings().await;
    let (handle, agent) = start_with(
        settings,
        shutdown.clone(),
        |_, _, _, mut rx, stop| async move {
            let mut received = 0u64;
            loop {
                tokio::select! {
                    () = stop.cancelled() => break,
                    batch = rx.recv() => match batch {
                        Some(_) => received += 1,
                        None => break,
                    },
                }
            }
            assert!(received > 0);
            Ok(())
        },
    );
    let running = tokio::spawn(agent);
    within("a few cycles", async {
        while handle.metrics.snapshot().polls < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    shutdown.cancel();
    within("shutdown", running).await.unwrap().unwrap();
    assert_eq!(handle.metrics.snapshot().batches_dropped(), 0);
}

#[tokio::test]
async fn an_unusable_spool_stops_the_agent_before_polling() {
    let (mut settings, dir) = settings().await;
    let file = dir.path().join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    settings.spool.dir = file;
    let (handle, agent) = start(settings, CancellationToken::new());
    let result = within("agent fails", agent).await;
    assert!(matches!(result, Err(AgentError::Spool(_))), "{result:?}");
    assert_eq!(handle.metrics.snapshot().polls, 0);
}

#[tokio::test]
async fn the_session_id_is_the_spools_and_survives_a_restart() {
    let (settings, _dir) = settings().await;
    let run = |settings: Settings| async move {
        let shutdown = CancellationToken::new();
        let (handle, agent) = start(settings, shutdown.clone());
        let running = tokio::spawn(agent);
        shutdown.cancel();
        within("shutdown", running).await.unwrap().unwrap();
        handle.session
    };
    let first = run(settings.clone()).await;
    assert_eq!(run(settings).await, first);
}
