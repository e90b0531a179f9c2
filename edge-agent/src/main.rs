//! The `edge-agent` binary: everything lives in the library (see `edge_agent::cli`).

fn main() -> std::process::ExitCode {
    edge_agent::cli::main()
}
