//! Validated settings of one OPC UA device (`protocol = "opcua"`), built by
//! `crate::config::opcua` and consumed by the device task in [`super::device`].

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use protocols::model::TagId;

/// How an OPC UA device is reached and what is read from it.
#[derive(Debug, Clone, PartialEq)]
pub struct OpcUaSource {
    /// `opc.tcp://host:port/path`; the host must match the server certificate's alt names
    /// when security is on.
    pub endpoint: String,
    /// Message security.
    pub security: Security,
    /// Who the agent logs in as.
    pub auth: Auth,
    /// Trust an unknown server certificate automatically (off by default: it is refused and
    /// stored under `{pki_dir}/rejected/` for the operator to move to `trusted/`).
    pub trust_server_certificate: bool,
    /// The agent's PKI directory: `own/` (client certificate, generated on first start),
    /// `private/`, `trusted/`, `rejected/`.
    pub pki_dir: PathBuf,
    /// The tags, in configuration order.
    pub tags: Vec<OpcUaTag>,
}

/// Security policy and message security mode, a valid pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Security {
    /// Security policy.
    pub policy: Policy,
    /// Message security mode (`None` exactly when the policy is `None`).
    pub mode: Mode,
}

/// Security policies the agent offers. Basic128Rsa15 and Basic256 (deprecated, PKCS#1 v1.5)
/// are deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// No security.
    None,
    /// Basic256Sha256.
    Basic256Sha256,
    /// Aes128_Sha256_RsaOaep.
    Aes128Sha256RsaOaep,
    /// Aes256_Sha256_RsaPss.
    Aes256Sha256RsaPss,
}

impl Policy {
    /// Every policy, in the order the configuration lists them.
    pub const ALL: [Policy; 4] = [
        Policy::None,
        Policy::Basic256Sha256,
        Policy::Aes128Sha256RsaOaep,
        Policy::Aes256Sha256RsaPss,
    ];

    /// The configuration spelling (also the OPC UA short name).
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::None => "None",
            Policy::Basic256Sha256 => "Basic256Sha256",
            Policy::Aes128Sha256RsaOaep => "Aes128_Sha256_RsaOaep",
            Policy::Aes256Sha256RsaPss => "Aes256_Sha256_RsaPss",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }
}

/// Message security mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain messages.
    None,
    /// Signed messages.
    Sign,
    /// Signed and encrypted messages.
    SignAndEncrypt,
}

impl Mode {
    /// Every mode.
    pub const ALL: [Mode; 3] = [Mode::None, Mode::Sign, Mode::SignAndEncrypt];

    /// The configuration spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::None => "None",
            Mode::Sign => "Sign",
            Mode::SignAndEncrypt => "SignAndEncrypt",
        }
    }

    /// Parses the configuration spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == s)
    }
}

/// User identity. `Debug` hides the password.
#[derive(Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anonymous.
    Anonymous,
    /// User name and password (read from a file or an environment variable).
    User {
        /// User name.
        username: String,
        /// Password.
        password: String,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Auth::Anonymous => f.write_str("Anonymous"),
            Auth::User { username, .. } => f
                .debug_struct("User")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
        }
    }
}

/// One OPC UA tag.
#[derive(Debug, Clone, PartialEq)]
pub struct OpcUaTag {
    /// The tag id (`{asset}/{name}`).
    pub id: TagId,
    /// The node id, in OPC UA string form (`ns=2;s=Motor1.Speed`); checked to parse.
    pub node_id: String,
    /// How the value is obtained.
    pub mode: TagMode,
}

/// Subscription (server pushes changes) or polled reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum TagMode {
    /// A monitored item in the device's subscription.
    Subscribe {
        /// Sampling interval requested from the server (`None`: the publishing interval).
        sampling_interval: Option<Duration>,
        /// Server-side queue size.
        queue_size: u32,
        /// Data-change filter.
        deadband: Option<Deadband>,
    },
    /// Read every poll interval (in batches of the server's MaxNodesPerRead).
    Poll,
}

/// A data-change deadband.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Deadband {
    /// Report a change when it exceeds this absolute amount.
    Absolute(f64),
    /// Report a change when it exceeds this percentage of the node's EURange.
    Percent(f64),
}
