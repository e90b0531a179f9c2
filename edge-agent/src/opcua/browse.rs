//! `edge-agent opcua browse ENDPOINT [NODE]`: walks the address space below NODE (default
//! the Objects folder) through hierarchical references, prints the tree (node class, node
//! id, data type of variables), and with `--write-config FILE` writes an agent
//! configuration with one `[[device]]` holding a `[[device.tag]]` per variable found, which
//! `edge-agent check-config` accepts as it is (review ids and the `[agent]`/`[mqtt]`
//! placeholders before use).
//!
//! Tag names are the browse path below NODE joined with `.`, restricted to the characters
//! an id segment allows, and made unique with a numeric suffix.
#![allow(clippy::print_stdout)]

use std::collections::{HashSet, VecDeque};
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use opcua::client::Session;
use opcua::types::{
    AttributeId, BrowseDescription, BrowseDirection, BrowseResultMask, NodeClass, NodeId,
    ReadValueId, ReferenceTypeId, TimestampsToReturn, Variant,
};

use super::session::{self, SessionError};
use super::settings::{Auth, Mode, OpcUaSource, Policy, Security};
use super::status::status_name;

/// Bound on each Browse/Read request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Stop after this many nodes (a guard against enormous address spaces).
const MAX_NODES: usize = 10_000;

/// Arguments of `edge-agent opcua browse`.
#[derive(Debug, Clone, Args)]
pub struct BrowseArgs {
    /// Server endpoint, e.g. opc.tcp://127.0.0.1:4840/
    pub endpoint: String,
    /// Start node (default: the Objects folder, i=85).
    #[arg(default_value = "i=85")]
    pub node: String,
    /// How many levels below NODE to walk.
    #[arg(long, default_value_t = 4)]
    pub depth: usize,
    /// None | Basic256Sha256 | Aes128_Sha256_RsaOaep | Aes256_Sha256_RsaPss.
    #[arg(long, default_value = "None", value_parser = |s: &str| Policy::parse(s).ok_or_else(|| format!("unknown security policy {s:?}")))]
    pub security_policy: Policy,
    /// None | Sign | SignAndEncrypt (default: SignAndEncrypt with a secure policy).
    #[arg(long, value_parser = |s: &str| Mode::parse(s).ok_or_else(|| format!("unknown security mode {s:?}")))]
    pub security_mode: Option<Mode>,
    /// Log in as this user; the password comes from --password-env.
    #[arg(long, requires = "password_env")]
    pub username: Option<String>,
    /// Environment variable holding the password.
    #[arg(long)]
    pub password_env: Option<String>,
    /// PKI directory (the agent's: {data_dir}/opcua-pki).
    #[arg(long, default_value = "data/opcua-pki")]
    pub pki_dir: PathBuf,
    /// Trust an unknown server certificate.
    #[arg(long)]
    pub trust_server_certificate: bool,
    /// Write an agent configuration for the variables found to this file.
    #[arg(long, value_name = "FILE")]
    pub write_config: Option<PathBuf>,
    /// Device id in the written configuration.
    #[arg(long, default_value = "opcua-device")]
    pub device_id: String,
}

/// Why browsing failed.
#[derive(Debug, thiserror::Error)]
pub enum BrowseError {
    /// Bad arguments.
    #[error("{0}")]
    Usage(String),
    /// Connecting or a service call failed.
    #[error("{0}")]
    Session(String),
    /// Writing the configuration failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl From<SessionError> for BrowseError {
    fn from(e: SessionError) -> Self {
        BrowseError::Session(e.to_string())
    }
}

impl BrowseError {
    /// Whether the command line was at fault (exit 64) rather than the server (exit 1).
    pub fn is_usage(&self) -> bool {
        matches!(self, BrowseError::Usage(_))
    }
}

/// One node found.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Depth below the start node (1 = child).
    pub depth: usize,
    /// Browse path below the start node.
    pub path: Vec<String>,
    /// Node id string.
    pub node_id: String,
    /// Object, Variable, ...
    pub class: NodeClass,
    /// Data type name of a variable.
    pub data_type: Option<String>,
}

/// Runs the command: browse, print, write the configuration if asked.
pub async fn run(args: BrowseArgs) -> Result<(), BrowseError> {
    let start: NodeId = args
        .node
        .parse()
        .map_err(|_| BrowseError::Usage(format!("{:?} is not a node id", args.node)))?;
    let mode = args
        .security_mode
        .unwrap_or(if args.security_policy == Policy::None {
            Mode::None
        } else {
            Mode::SignAndEncrypt
        });
    if (args.security_policy == Policy::None) != (mode == Mode::None) {
        return Err(BrowseError::Usage(format!(
            "security mode {} does not fit security policy {}",
            mode.as_str(),
            args.security_policy.as_str()
        )));
    }
    let auth = match (&args.username, &args.password_env) {
        (Some(username), Some(var)) => Auth::User {
            username: username.clone(),
            password: std::env::var(var).map_err(|_| {
                BrowseError::Usage(format!("environment variable {var} is not set"))
            })?,
        },
        _ => Auth::Anonymous,
    };
    let source = OpcUaSource {
        endpoint: args.endpoint.clone(),
        security: Security {
            policy: args.security_policy,
            mode,
        },
        auth,
        trust_server_certificate: args.trust_server_certificate,
        pki_dir: args.pki_dir.clone(),
        tags: Vec::new(),
    };
    let mut client = super::pki::client(
        &source.pki_dir,
        source.trust_server_certificate,
        REQUEST_TIMEOUT,
    )
    .map_err(BrowseError::Usage)?;
    let conn = session::connect(&mut client, &source, REQUEST_TIMEOUT).await?;
    let found = walk(&conn.session, &start, args.depth).await;
    conn.close(REQUEST_TIMEOUT).await;
    let found = found?;
    print!("{}", render_tree(&args.node, &found));
    if let Some(path) = &args.write_config {
        let text = render_config(&args, &found);
        std::fs::write(path, text).map_err(|source| BrowseError::Write {
            path: path.clone(),
            source,
        })?;
        let n = found
            .iter()
            .filter(|f| f.class == NodeClass::Variable)
            .count();
        println!("wrote {} ({n} tags)", path.display());
    }
    Ok(())
}

async fn walk(session: &Session, start: &NodeId, depth: usize) -> Result<Vec<Found>, BrowseError> {
    let service = |service: &'static str| {
        move |e: opcua::types::Error| SessionError::Service {
            service,
            status: status_name(e.status()),
        }
    };
    let mut found = Vec::new();
    let mut seen: HashSet<NodeId> = HashSet::from([start.clone()]);
    let mut queue: VecDeque<(NodeId, usize, Vec<String>)> =
        VecDeque::from([(start.clone(), 0, Vec::new())]);
    while let Some((node, level, path)) = queue.pop_front() {
        if level >= depth || found.len() >= MAX_NODES {
            continue;
        }
        let description = BrowseDescription {
            node_id: node.clone(),
            browse_direction: BrowseDirection::Forward,
            reference_type_id: ReferenceTypeId::HierarchicalReferences.into(),
            include_subtypes: true,
            node_class_mask: 0,
            result_mask: BrowseResultMask::All as u32,
        };
        let mut results = bounded(session.browse(&[description], 0, None))
            .await?
            .map_err(service("Browse"))?;
        let mut refs = Vec::new();
        while let Some(result) = results.pop() {
            refs.extend(result.references.unwrap_or_default());
            if result.continuation_point.is_null_or_empty() {
                break;
            }
            results = bounded(session.browse_next(false, &[result.continuation_point]))
                .await?
                .map_err(service("BrowseNext"))?;
        }
        let mut children = Vec::new();
        for r in refs {
            let id = r.node_id.node_id.clone();
            if !seen.insert(id.clone()) {
                continue;
            }
            let mut child_path = path.clone();
            child_path.push(r.browse_name.name.as_ref().to_owned());
            let data_type = if r.node_class == NodeClass::Variable {
                data_type(session, &id).await?
            } else {
                None
            };
            found.push(Found {
                depth: level + 1,
                path: child_path.clone(),
                node_id: id.to_string(),
                class: r.node_class,
                data_type,
            });
            if matches!(r.node_class, NodeClass::Object | NodeClass::Variable) {
                children.push((id, level + 1, child_path));
            }
        }
        queue.extend(children);
    }
    // Sorting by browse path puts every node right before its subtree.
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

async fn data_type(session: &Session, node: &NodeId) -> Result<Option<String>, BrowseError> {
    let read = ReadValueId::new(node.clone(), AttributeId::DataType);
    let values = bounded(session.read(&[read], TimestampsToReturn::Neither, 0.0))
        .await?
        .map_err(|e| SessionError::Service {
            service: "Read(DataType)",
            status: status_name(e.status()),
        })?;
    Ok(match values.first().and_then(|v| v.value.as_ref()) {
        Some(Variant::NodeId(id)) => Some(type_name(id)),
        _ => None,
    })
}

/// The built-in type name of a data type node id, or the node id.
fn type_name(id: &NodeId) -> String {
    const NAMES: [&str; 13] = [
        "Boolean", "SByte", "Byte", "Int16", "UInt16", "Int32", "UInt32", "Int64", "UInt64",
        "Float", "Double", "String", "DateTime",
    ];
    match (id.namespace, &id.identifier) {
        (0, opcua::types::Identifier::Numeric(n)) if (1..=13).contains(n) => {
            NAMES[(*n - 1) as usize].to_owned()
        }
        _ => id.to_string(),
    }
}

async fn bounded<T>(fut: impl Future<Output = T>) -> Result<T, SessionError> {
    tokio::time::timeout(REQUEST_TIMEOUT, fut)
        .await
        .map_err(|_| SessionError::Timeout {
            what: "browse",
            after: REQUEST_TIMEOUT,
        })
}

/// The printed tree.
pub fn render_tree(start: &str, found: &[Found]) -> String {
    let mut out = format!("{start}\n");
    for f in found {
        let indent = "  ".repeat(f.depth);
        let name = f.path.last().map_or("", String::as_str);
        let class = format!("{:?}", f.class);
        let _ = write!(out, "{indent}{name} [{class}] {}", f.node_id);
        if let Some(t) = &f.data_type {
            let _ = write!(out, " : {t}");
        }
        out.push('\n');
    }
    out
}

/// A tag name from a browse path: allowed characters only, `.` between levels.
fn tag_name(path: &[String]) -> String {
    let joined = path.join(".");
    let cleaned: String = joined
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed: String = cleaned
        .chars()
        .take(protocols::model::MAX_SEGMENT_LEN)
        .collect();
    if trimmed.is_empty() {
        "tag".to_owned()
    } else {
        trimmed
    }
}

/// The agent configuration for the variables in `found`.
pub fn render_config(args: &BrowseArgs, found: &[Found]) -> String {
    let mode = args
        .security_mode
        .unwrap_or(if args.security_policy == Policy::None {
            Mode::None
        } else {
            Mode::SignAndEncrypt
        });
    let mut out = String::from(
        "# Written by `edge-agent opcua browse`; review the ids, then merge the [[device]] into\n\
         # your configuration.\n[agent]\nid = \"edge-01\"\nsite = \"site\"\narea = \"area\"\nline = \"line\"\n\n\
         [mqtt]\nbroker = \"mqtt://127.0.0.1:1883\"\n\n",
    );
    let _ = write!(
        out,
        "[[device]]\nid = {}\nprotocol = \"opcua\"\nendpoint = {}\nsecurity_policy = \"{}\"\nsecurity_mode = \"{}\"\n",
        toml_str(&args.device_id),
        toml_str(&args.endpoint),
        args.security_policy.as_str(),
        mode.as_str()
    );
    if let (Some(user), Some(var)) = (&args.username, &args.password_env) {
        let _ = write!(
            out,
            "auth = \"username\"\nusername = {}\npassword_env = {}\n",
            toml_str(user),
            toml_str(var)
        );
    }
    let mut names = HashSet::new();
    for f in found.iter().filter(|f| f.class == NodeClass::Variable) {
        let base = tag_name(&f.path);
        let mut name = base.clone();
        let mut n = 2;
        while !names.insert(name.clone()) {
            name = format!("{base}_{n}");
            n += 1;
        }
        let _ = write!(
            out,
            "\n[[device.tag]]\nname = {}\nnode_id = {}\n",
            toml_str(&name),
            toml_str(&f.node_id)
        );
        if let Some(t) = &f.data_type {
            let _ = writeln!(out, "description = {}", toml_str(&format!("OPC UA {t}")));
        }
    }
    out
}

/// A TOML basic string.
fn toml_str(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_keep_allowed_characters_only() {
        assert_eq!(
            tag_name(&["Press 1".into(), "Speed/rpm".into()]),
            "Press_1.Speed_rpm"
        );
        assert_eq!(tag_name(&[]), "tag");
    }
}
