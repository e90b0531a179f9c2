//! Learned exception-02 holes on disk, so a restart does not learn them again:
//! `{data_dir}/modbus-holes/{device id}.txt`, one hole per line as `{kind} {start} {count}`
//! (protocol addresses). Written whole to a temporary file and renamed over the old one.
//! `check-config` reads the same files to show the plan the agent will actually run.

use std::path::{Path, PathBuf};

use protocols::modbus::{Hole, RegisterKind};

/// The directory of the hole files under `data_dir`.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("modbus-holes")
}

fn file(data_dir: &Path, device: &str) -> PathBuf {
    dir(data_dir).join(format!("{device}.txt"))
}

/// The holes stored for `device` (none when there is no file; malformed lines are skipped).
pub fn load(data_dir: &Path, device: &str) -> Vec<Hole> {
    std::fs::read_to_string(file(data_dir, device))
        .map(|text| parse(&text))
        .unwrap_or_default()
}

/// [`load`] without blocking the runtime.
pub(crate) async fn load_async(data_dir: &Path, device: &str) -> Vec<Hole> {
    tokio::fs::read_to_string(file(data_dir, device))
        .await
        .map(|text| parse(&text))
        .unwrap_or_default()
}

fn parse(text: &str) -> Vec<Hole> {
    text.lines()
        .filter_map(|line| {
            let mut parts = line.split_whitespace();
            let kind = RegisterKind::parse(parts.next()?)?;
            let start = parts.next()?.parse().ok()?;
            let count = parts.next()?.parse().ok()?;
            Some(Hole { kind, start, count })
        })
        .collect()
}

fn render(holes: &[Hole]) -> String {
    holes
        .iter()
        .map(|h| format!("{} {} {}\n", h.kind, h.start, h.count))
        .collect()
}

/// Replaces `device`'s stored holes (an empty list removes the file).
pub async fn save(data_dir: &Path, device: &str, holes: &[Hole]) -> std::io::Result<()> {
    let path = file(data_dir, device);
    if holes.is_empty() {
        return match tokio::fs::remove_file(&path).await {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        };
    }
    tokio::fs::create_dir_all(dir(data_dir)).await?;
    let tmp = path.with_extension("tmp");
    tokio::fs::write(&tmp, render(holes)).await?;
    tokio::fs::rename(&tmp, &path).await
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_removal() {
        let tmp = tempfile::tempdir().unwrap();
        let holes = vec![
            Hole {
                kind: RegisterKind::Holding,
                start: 100,
                count: 3,
            },
            Hole {
                kind: RegisterKind::Input,
                start: 7,
                count: 0,
            },
        ];
        assert!(load(tmp.path(), "pump").is_empty());
        save(tmp.path(), "pump", &holes).await.unwrap();
        assert_eq!(load(tmp.path(), "pump"), holes);
        assert_eq!(parse("holding 1 2\ngarbage\ncoil x 1\n").len(), 1);
        save(tmp.path(), "pump", &[]).await.unwrap();
        assert!(load(tmp.path(), "pump").is_empty());
        save(tmp.path(), "pump", &[]).await.unwrap();
    }
}
