//! The web dashboard in a real browser: starts plant-sim (ticking), edge-agent and the
//! aggregator (embedded broker, SQLite) plus a dead device, then runs
//! `tests/browser/dashboard.mjs` (playwright-core driving Debian's headless Chromium)
//! against the aggregator's URL. The script checks the overview against the API, opens an
//! asset, waits for live values to change on screen, exercises the trend chart, checks the
//! dead device's bad values show their reason, cuts the live socket (the page reconnects),
//! kills the agent (assets and values turn stale on screen), fails on any console error,
//! and prints the sample-to-screen latency and page load bytes.
//!
//! Needs `node`, `/usr/bin/chromium` (or `SENTIA_CHROMIUM`) and `npm ci` in
//! `tests/browser/`; without them the test fails under `CI=true` and skips elsewhere. The
//! screenshot goes to the temp dir, or to `SENTIA_DASHBOARD_SCREENSHOT` when set (the
//! README's `aggregator/docs/dashboard.png` is made that way).
#![allow(clippy::unwrap_used, clippy::print_stdout)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use tests::peers::require;
use tests::stack::{Stack, StackOptions};

/// The whole browser run (Chromium start, ~50 live updates, chart, screenshot).
const BROWSER_DEADLINE: Duration = Duration::from_secs(240);

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

fn chromium() -> PathBuf {
    std::env::var_os("SENTIA_CHROMIUM")
        .map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Node, Chromium and playwright-core are all there.
async fn probe() -> anyhow::Result<()> {
    let out = tokio::time::timeout(
        Duration::from_secs(10),
        tokio::process::Command::new("node")
            .arg("--version")
            .output(),
    )
    .await
    .context("node --version timed out")?
    .context("run node (install Node.js)")?;
    if !out.status.success() {
        bail!("node --version failed");
    }
    let chromium = chromium();
    if !chromium.is_file() {
        bail!("{} missing (apt-get install chromium)", chromium.display());
    }
    let playwright = browser_dir().join("node_modules/playwright-core/package.json");
    if !playwright.is_file() {
        bail!("{} missing (npm ci in tests/browser)", playwright.display());
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let test = "dashboard_in_headless_chromium";
    if require(test, "node + chromium + playwright-core", probe().await).is_none() {
        return;
    }
    let stack = Stack::start(StackOptions {
        machines: 6,
        tick: Duration::from_millis(100),
        poll_interval: "200ms",
        dead_device: true,
        ..StackOptions::default()
    })
    .await
    .unwrap();
    let dead = stack.asset(stack.map.entries.last().unwrap());
    let assets = stack.map.entries.len();
    // Every asset has data and the dead one is offline before the browser looks.
    let ready = stack
        .api
        .wait_for("every asset with data", Duration::from_secs(30), |api| {
            let dead = dead.clone();
            async move {
                let tree = api.get("/api/v1/assets").await?;
                let mut seen = Vec::new();
                for s in tree["sites"].as_array().into_iter().flatten() {
                    for a in s["areas"].as_array().into_iter().flatten() {
                        for l in a["lines"].as_array().into_iter().flatten() {
                            for x in l["assets"].as_array().into_iter().flatten() {
                                seen.push((
                                    x["id"].as_str().unwrap_or("").to_owned(),
                                    x["status"].clone(),
                                ));
                            }
                        }
                    }
                }
                let dead_offline = seen.iter().any(|(id, st)| *id == dead && st == "offline");
                Ok((seen.len() == assets && dead_offline).then_some(()))
            }
        })
        .await;
    if let Err(e) = ready {
        panic!("{e:#}\n{}", stack.logs());
    }

    let base = format!("http://{}", stack.aggregator.ready_value("api").unwrap());
    let shot = std::env::var_os("SENTIA_DASHBOARD_SCREENSHOT")
        .map_or_else(|| stack.dir.path().join("dashboard.png"), PathBuf::from);
    let run = tokio::process::Command::new("node")
        .arg(browser_dir().join("dashboard.mjs"))
        .arg(&base)
        .arg(&shot)
        .arg(&dead)
        // The script kills the agent at the end to check staleness on screen.
        .env("SENTIA_AGENT_PID", stack.agent.pid().unwrap().to_string())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(BROWSER_DEADLINE, run).await {
        Ok(out) => out.unwrap(),
        Err(_) => panic!(
            "browser run took longer than {BROWSER_DEADLINE:?}\n{}",
            stack.logs()
        ),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "browser test failed ({}):\n{stdout}\n{stderr}\n{}",
        out.status,
        stack.logs()
    );
    let result = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RESULT "))
        .expect("RESULT line");
    let result: serde_json::Value = serde_json::from_str(result).unwrap();
    assert_eq!(result["assets"], assets, "{result}");
    assert!(
        result["latency_ms"]["samples"].as_u64().unwrap() >= 50,
        "{result}"
    );
    assert!(
        std::fs::metadata(&shot).unwrap().len() > 10_000,
        "screenshot"
    );
}
