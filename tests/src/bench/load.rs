//! HTTP load generator: `concurrency` clients (each its own reqwest client and keep-alive
//! connection) send GETs back to back for a window; latencies of every request are kept.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::proc_stats::CpuSample;

/// Latency and throughput of one load run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LoadResult {
    /// Median latency, ms.
    pub(crate) p50_ms: f64,
    /// 99th percentile latency, ms.
    pub(crate) p99_ms: f64,
    /// Completed requests per second over all clients.
    pub(crate) req_per_s: f64,
    /// Requests answered with a status other than 200, or failed.
    pub(crate) errors: u64,
    /// CPU the server process used per completed request, µs.
    pub(crate) server_cpu_us_per_req: f64,
}

/// Runs `concurrency` clients against `url` for `window`; `server` is the server's pid.
pub(crate) async fn run(
    url: &str,
    concurrency: usize,
    window: Duration,
    server: u32,
) -> anyhow::Result<LoadResult> {
    let cpu_before = CpuSample::take(server)?;
    let start = Instant::now();
    let end = start + window;
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .context("reqwest client")?;
        let url = url.to_owned();
        tasks.spawn(async move {
            let mut latencies_us: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            while Instant::now() < end {
                let t = Instant::now();
                let ok = match http.get(&url).send().await {
                    Ok(resp) => resp.status().as_u16() == 200 && resp.bytes().await.is_ok(),
                    Err(_) => false,
                };
                if ok {
                    latencies_us.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
                } else {
                    errors += 1;
                }
            }
            (latencies_us, errors)
        });
    }
    let mut all = Vec::new();
    let mut errors = 0;
    while let Some(done) = tasks.join_next().await {
        let (lat, err) = done.context("load client panicked")?;
        all.extend(lat);
        errors += err;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let (server_cpu_s, _) = cpu_before.until(&CpuSample::take(server)?);
    anyhow::ensure!(
        !all.is_empty(),
        "no request to {url} succeeded ({errors} failed)"
    );
    all.sort_unstable();
    Ok(LoadResult {
        p50_ms: percentile(&all, 0.50),
        p99_ms: percentile(&all, 0.99),
        req_per_s: all.len() as f64 / elapsed,
        errors,
        server_cpu_us_per_req: server_cpu_s * 1e6 / all.len() as f64,
    })
}

/// Nearest-rank percentile of sorted µs latencies, in ms.
fn percentile(sorted_us: &[u32], p: f64) -> f64 {
    let rank = ((sorted_us.len() as f64 * p).ceil() as usize).clamp(1, sorted_us.len());
    f64::from(sorted_us[rank - 1]) / 1000.0
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|x| x * 1000).collect();
        assert_eq!(percentile(&v, 0.5), 50.0);
        assert_eq!(percentile(&v, 0.99), 99.0);
        assert_eq!(percentile(&[7000], 0.99), 7.0);
    }
}
