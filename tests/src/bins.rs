//! Locating the workspace's binaries from inside a test.
//!
//! A test executable lives in `<target>/<profile>/deps/`; the binaries are in
//! `<target>/<profile>/`. Cargo cannot build another package's binaries for a test
//! (artifact dependencies are unstable), so the README's test command runs
//! `cargo build --workspace --bins` before `cargo test`.

use std::path::PathBuf;

/// The agent binary.
pub const EDGE_AGENT: &str = "edge-agent";
/// The aggregator binary.
pub const AGGREGATOR: &str = "aggregator";
/// The simulator binary.
pub const PLANT_SIM: &str = "plant-sim";

/// Path of a workspace binary built in the same profile as the running test.
///
/// Panics with the command to run when the binary has not been built.
pub fn path(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe of the test binary");
    let mut dir = exe
        .parent()
        .expect("test binary has a parent dir")
        .to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    let bin = dir.join(name);
    assert!(
        bin.exists(),
        "{} not found: build the binaries first with `cargo build --workspace --bins` \
         (the README's test command does this)",
        bin.display()
    );
    bin
}
