//! `gen-agent-config MAP [--agent-id ID] [--broker URL] [--poll-interval D] [--encoding E]
//! [--site S] [--data-dir DIR]`:
//! prints an edge-agent configuration that polls everything in a plant-sim register map.

use anyhow::{Context, bail};
use tests::agent_config::{AgentConfigOptions, render};

fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut map_path = None;
    let mut opts = AgentConfigOptions {
        agent_id: "edge-01".into(),
        broker: "mqtt://127.0.0.1:11883".into(),
        poll_interval: "1s".into(),
        site: None,
        encoding: "binary".into(),
        data_dir: None,
    };
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().with_context(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--agent-id" => opts.agent_id = value("--agent-id")?,
            "--broker" => opts.broker = value("--broker")?,
            "--poll-interval" => opts.poll_interval = value("--poll-interval")?,
            "--encoding" => opts.encoding = value("--encoding")?,
            "--site" => opts.site = Some(value("--site")?),
            "--data-dir" => opts.data_dir = Some(value("--data-dir")?),
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => map_path = Some(arg),
        }
    }
    let map_path = map_path.context(
        "usage: gen-agent-config MAP [--agent-id ID] [--broker URL] [--poll-interval D]",
    )?;
    let map = simulators::read_map(std::path::Path::new(&map_path))?;
    let text = render(&map, &opts)?;
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?;
    Ok(())
}
