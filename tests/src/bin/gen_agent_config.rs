//! `gen-agent-config MAP [--agent-id ID] [--broker URL] [--poll-interval D] [--encoding E]
//! [--site S] [--data-dir DIR] [--opcua [--security-policy P] [--security-mode M]
//! [--trust-server-certificate] [--username U --password-file F]]`:
//! prints an edge-agent configuration that polls everything in a plant-sim register map
//! (over Modbus TCP, or with `--opcua` over the OPC UA server the map names).

use anyhow::{Context, bail};
use tests::agent_config::{AgentConfigOptions, OpcUaConfigOptions, render, render_opcua};

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
    let mut opcua = None::<OpcUaConfigOptions>;
    let mut username = None;
    let mut password_file = None;
    let default_opcua = || OpcUaConfigOptions {
        security_policy: "None".into(),
        security_mode: "None".into(),
        trust_server_certificate: false,
        user: None,
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
            "--opcua" => opcua = Some(opcua.unwrap_or_else(default_opcua)),
            "--security-policy" => {
                opcua.get_or_insert_with(default_opcua).security_policy =
                    value("--security-policy")?;
            }
            "--security-mode" => {
                opcua.get_or_insert_with(default_opcua).security_mode = value("--security-mode")?;
            }
            "--trust-server-certificate" => {
                opcua
                    .get_or_insert_with(default_opcua)
                    .trust_server_certificate = true;
            }
            "--username" => username = Some(value("--username")?),
            "--password-file" => password_file = Some(value("--password-file")?),
            s if s.starts_with("--") => bail!("unknown option {s}"),
            _ => map_path = Some(arg),
        }
    }
    let map_path = map_path.context(
        "usage: gen-agent-config MAP [--agent-id ID] [--broker URL] [--poll-interval D]",
    )?;
    let map = simulators::read_map(std::path::Path::new(&map_path))?;
    let text = match opcua {
        Some(mut o) => {
            o.user = match (username, password_file) {
                (Some(u), Some(p)) => Some((u, p)),
                (None, None) => None,
                _ => bail!("--username and --password-file go together"),
            };
            render_opcua(&map, &opts, &o)?
        }
        None => render(&map, &opts)?,
    };
    std::io::Write::write_all(&mut std::io::stdout(), text.as_bytes())?;
    Ok(())
}
