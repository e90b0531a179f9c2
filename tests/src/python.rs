//! Python peers for the interop tests: pymodbus and asyncua, written by people outside this
//! project, so a misreading of the specification cannot hide by being on both sides.
//!
//! `.ci/run` installs `tests/python/requirements.txt` into a venv at
//! `${SENTIA_VENV:-$HOME/.cache/sentia-venv}`. [`python`] returns that venv's interpreter once
//! it has checked the packages import; the usual CI rule applies through
//! [`crate::peers::require`] (missing under `CI=true` fails the test). Peer scripts live in
//! `tests/python/` and are found with [`script`].
//!
//! To run the interop tests locally:
//! `python3 -m venv ~/.cache/sentia-venv && ~/.cache/sentia-venv/bin/pip install -r tests/python/requirements.txt`.

use std::path::PathBuf;
use std::process::Command;

use anyhow::{Context, bail};

/// The venv directory.
pub fn venv_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("SENTIA_VENV") {
        return dir.into();
    }
    let home = std::env::var_os("HOME").unwrap_or_else(|| "/root".into());
    PathBuf::from(home).join(".cache/sentia-venv")
}

/// The venv's interpreter, after checking that every module in `modules` imports.
pub fn python(modules: &[&str]) -> anyhow::Result<PathBuf> {
    let exe = venv_dir().join("bin/python");
    if !exe.exists() {
        bail!(
            "no Python venv at {} (create it: python3 -m venv {0} && {0}/bin/pip install -r tests/python/requirements.txt)",
            venv_dir().display()
        );
    }
    let check = format!("import {}", modules.join(", "));
    let out = Command::new(&exe)
        .args(["-c", &check])
        .output()
        .with_context(|| format!("run {}", exe.display()))?;
    if !out.status.success() {
        bail!(
            "{} cannot `{check}`: {}",
            exe.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(exe)
}

/// A peer script in `tests/python/`.
pub fn script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("python")
        .join(name)
}

/// The `socat` binary (for serial pty pairs), checked on `PATH`.
pub fn socat() -> anyhow::Result<PathBuf> {
    let out = Command::new("sh")
        .args(["-c", "command -v socat"])
        .output()
        .context("look for socat")?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || path.is_empty() {
        bail!("socat not found on PATH (Debian package socat)");
    }
    Ok(path.into())
}
