//! The agent's OPC UA identity and trust store, both under one PKI directory
//! (`{agent.data_dir}/opcua-pki` by default):
//!
//! - `own/cert.der`, `private/private.pem`: the client certificate and key, generated on
//!   the first start (application URI [`APPLICATION_URI`], this machine's host names and
//!   addresses as alt names) and reused afterwards.
//! - `trusted/`: server certificates the operator trusts.
//! - `rejected/`: where an unknown server's certificate lands when it is refused. Moving
//!   the file to `trusted/` trusts it; the device task retries with backoff, so no restart
//!   is needed.

use std::path::{Path, PathBuf};
use std::time::Duration;

use opcua::client::{Client, ClientBuilder};

/// The agent's OPC UA application URI (in its certificate).
pub const APPLICATION_URI: &str = "urn:sentia:edge-agent";

/// A client with the PKI at `pki_dir` (the certificate is created if missing).
pub(crate) fn client(
    pki_dir: &Path,
    trust_server_certificate: bool,
    request_timeout: Duration,
) -> Result<Client, String> {
    ClientBuilder::new()
        .application_name("Sentia edge agent")
        .application_uri(APPLICATION_URI)
        .product_uri("urn:sentia")
        .pki_dir(pki_dir)
        .create_sample_keypair(true)
        .trust_server_certs(trust_server_certificate)
        .verify_server_certs(true)
        // Reconnects are ours (backoff, bad points, fresh subscriptions): the library's
        // event loop ends on the first failure.
        .session_retry_limit(0)
        .request_timeout(request_timeout)
        .session_name("sentia")
        .client()
        .map_err(|problems| problems.join("; "))
}

/// The advice given when a server certificate is not trusted: which files in `rejected/`
/// to move to `trusted/`.
pub(crate) fn untrusted_advice(pki_dir: &Path) -> String {
    let rejected = pki_dir.join("rejected");
    let trusted = pki_dir.join("trusted");
    let files = rejected_files(&rejected);
    match files.as_slice() {
        [] => format!(
            "server certificate not trusted; copy it into {} to trust it (or set trust_server_certificate = true)",
            trusted.display()
        ),
        files => {
            let quoted: Vec<String> = files.iter().map(|f| shell_quote(f)).collect();
            format!(
                "server certificate not trusted: it was stored as {}; to trust it run `mv {} {}/` (the agent retries on its own)",
                quoted.join(", "),
                quoted.join(" "),
                shell_quote(&trusted)
            )
        }
    }
}

/// `path` in single quotes for a POSIX shell (file names hold spaces and brackets).
fn shell_quote(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', r"'\''"))
}

fn rejected_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    files.sort();
    files
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn advice_names_the_rejected_file_and_a_quoted_mv() {
        let dir = tempfile::tempdir().unwrap();
        let rejected = dir.path().join("rejected");
        std::fs::create_dir_all(&rejected).unwrap();
        let none = untrusted_advice(dir.path());
        assert!(none.contains("trusted"), "{none}");
        let file = rejected.join("CN=it's a server [ab12].der");
        std::fs::write(&file, b"x").unwrap();
        let advice = untrusted_advice(dir.path());
        let quoted = format!("'{}'", file.display().to_string().replace('\'', r"'\''"));
        assert!(
            advice.contains(&format!(
                "mv {quoted} '{}'/",
                dir.path().join("trusted").display()
            )),
            "{advice}"
        );
    }
}
