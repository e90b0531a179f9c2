//! An aggregator process for one measurement, and its Prometheus counters.

use ::tests::api::Api;
use ::tests::process::Proc;
use ::tests::stack::READY;

use super::Ctx;

/// Where the aggregator gets its MQTT from.
#[derive(Debug, Clone)]
pub(crate) enum BrokerChoice {
    /// Its embedded rumqttd broker on an OS-chosen port.
    Embedded,
    /// An external broker, `host:port`.
    External(String),
}

/// Where the aggregator stores points.
#[derive(Debug, Clone)]
pub(crate) enum Storage {
    /// A fresh SQLite file in the bench's temp dir.
    Sqlite,
    /// A PostgreSQL database the bench created for this run.
    Postgres(String),
}

/// A running aggregator (killed on drop).
pub(crate) struct Aggregator {
    /// The process.
    pub(crate) proc: Proc,
    /// Its HTTP API.
    pub(crate) api: Api,
    /// The broker it listens to, `host:port`.
    pub(crate) broker_addr: String,
}

/// `sentia_points_stored_total`.
pub(crate) const POINTS_STORED: &str = "sentia_points_stored_total";

impl Aggregator {
    /// Writes a config for `broker` and `storage` and starts the aggregator.
    pub(crate) async fn start(
        ctx: &Ctx,
        broker: BrokerChoice,
        storage: Storage,
    ) -> anyhow::Result<Self> {
        let run = format!("{:08x}", rand::random::<u32>());
        let data_dir = ctx.logs().join(format!("aggregator-{run}"));
        let mqtt = match &broker {
            BrokerChoice::Embedded => "mode = \"embedded\"\nlisten = \"127.0.0.1:0\"\n".to_owned(),
            BrokerChoice::External(addr) => format!(
                "mode = \"external\"\nurl = \"mqtt://{addr}\"\nclient_id = \"sentia-bench-{run}\"\n"
            ),
        };
        let storage = match &storage {
            Storage::Sqlite => "backend = \"sqlite\"\n".to_owned(),
            Storage::Postgres(url) => format!("backend = \"postgres\"\npostgres_url = {url:?}\n"),
        };
        let cfg = ctx.logs().join(format!("aggregator-{run}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "data_dir = {data_dir:?}\n[mqtt]\n{mqtt}[storage]\n{storage}\
                 [api]\nlisten = \"127.0.0.1:0\"\n"
            ),
        )?;
        let proc = Proc::spawn(
            &ctx.bin(::tests::bins::AGGREGATOR)?,
            &["run", "--config", &cfg.to_string_lossy()],
            ctx.logs(),
            "aggregator",
            READY,
        )
        .await?;
        let api = Api::new(proc.ready_value("api")?);
        let broker_addr = match broker {
            BrokerChoice::Embedded => proc
                .ready_value("broker")?
                .trim_start_matches("mqtt://")
                .to_owned(),
            BrokerChoice::External(addr) => addr,
        };
        Ok(Self {
            proc,
            api,
            broker_addr,
        })
    }

    /// A counter from `/metrics`, summed over its labels.
    pub(crate) async fn counter(&self, name: &str) -> anyhow::Result<f64> {
        let (status, text) = self.api.get_raw("/metrics").await?;
        anyhow::ensure!(status == 200, "GET /metrics -> {status}");
        Ok(metric(&text, name))
    }
}

/// Sum of every sample of `name` in Prometheus text.
pub(crate) fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#') && l.split([' ', '{']).next() == Some(name))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn sums_labelled_samples() {
        let text = "# HELP x\nsentia_a_total{r=\"1\"} 2\nsentia_a_total{r=\"2\"} 3\nsentia_ab 9\n";
        assert_eq!(metric(text, "sentia_a_total"), 5.0);
    }
}
