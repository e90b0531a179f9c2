//! Rebuilds the aggregator when a dashboard file under `web/` is added, removed or changed
//! (rust-embed's `include_bytes!` only tracks files that existed at the last build).

fn main() {
    println!("cargo::rerun-if-changed=web");
}
