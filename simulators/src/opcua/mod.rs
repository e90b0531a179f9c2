//! plant-sim's OPC UA server (async-opcua): the same machines as the Modbus server, one
//! object per machine under Objects with a variable per signal, holding the engineering value
//! a correct Modbus client decodes (so both protocols agree), updated every tick.
//!
//! - Node ids: `ns=<index of` [`NAMESPACE_URI`] `>;s=<machine id>.<signal>` (the map file
//!   records the index and each node id, see `crate::map_file`).
//! - EURange: integer-encoded analog variables have an `EURange` property (their register's
//!   raw range in engineering units, [`eu_range`]), which async-opcua's server reads to apply
//!   percent deadbands; booleans and float-encoded signals have none.
//! - Endpoints (path `/`): None; Basic256Sha256, Aes128_Sha256_RsaOaep and
//!   Aes256_Sha256_RsaPss, each Sign and SignAndEncrypt. Basic128Rsa15 and Basic256 are not
//!   offered. Users: anonymous and one user/password (`--opcua-user`).
//! - PKI (`--opcua-pki`): the server certificate is generated on first start (alt names:
//!   the application URI, localhost, 127.0.0.1, this machine's names and addresses) and
//!   reused. Client certificates are trusted automatically: plant-sim is a test peer.
//! - `faults`: any status code (and freeze) per machine from a file re-read while running
//!   (`--opcua-faults`). The shared fault state applies too: `freeze` stops a machine's
//!   values, `silence`/`disconnect` publish them as BadNoCommunication, `delay` writes its
//!   values (sampled and source-timestamped on time) into the address space that much later,
//!   so Reads and subscriptions see them late; `exception` has no OPC UA effect.
//! - `proxy`: clients connect through a TCP relay on the public address, which cuts every
//!   connection and closes new ones while any machine has the `disconnect` fault (async-opcua
//!   cannot close chosen sessions, and one endpoint serves every machine).

pub mod faults;
mod proxy;
mod server;

pub use server::{
    NAMESPACE_URI, OpcUaError, OpcUaServer, OpcUaSettings, Publisher, eu_range, node_id,
};
