//! Reading and writing register map files. Writes go to a temporary file in
//! the destination directory, are fsynced, then renamed into place, so a
//! concurrent reader sees either no file or the whole file.

use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::{MAP_FORMAT, RegisterMap};

/// Why a map file could not be written or read.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// The map could not be rendered as TOML.
    #[error("failed to render the register map as TOML")]
    Render(#[source] toml::ser::Error),
    /// Writing (or renaming into place) failed.
    #[error("failed to write register map {path}")]
    Write {
        /// Destination or temporary file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// Reading the file failed.
    #[error("failed to read register map {path}")]
    Read {
        /// The map file.
        path: PathBuf,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The file is not valid map TOML.
    #[error("failed to parse register map {path}")]
    Parse {
        /// The map file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: toml::de::Error,
    },
    /// The file declares a format this build does not understand.
    #[error("register map {path} has format {found}, expected {MAP_FORMAT}")]
    Format {
        /// The map file.
        path: PathBuf,
        /// The declared format.
        found: u32,
    },
}

/// Writes `map` to `path` atomically (temporary file, fsync, rename).
pub fn write_map(path: &Path, map: &RegisterMap) -> Result<(), MapError> {
    let text = map.to_toml()?;
    let file_name = path.file_name().map_or_else(
        || "register-map.toml".into(),
        |n| n.to_string_lossy().into_owned(),
    );
    let tmp = path.with_file_name(format!(".{file_name}.{}.tmp", std::process::id()));
    let write_tmp = || -> io::Result<()> {
        let mut file = fs::File::create(&tmp)?;
        file.write_all(text.as_bytes())?;
        file.sync_all()
    };
    if let Err(source) = write_tmp() {
        // Best effort: the temporary file is ours and useless now.
        let _ = fs::remove_file(&tmp);
        return Err(MapError::Write { path: tmp, source });
    }
    fs::rename(&tmp, path).map_err(|source| {
        let _ = fs::remove_file(&tmp);
        MapError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

/// Reads and parses the map file at `path`, checking its format version.
pub fn read_map(path: impl AsRef<Path>) -> Result<RegisterMap, MapError> {
    let path = path.as_ref();
    let text = fs::read_to_string(path).map_err(|source| MapError::Read {
        path: path.to_owned(),
        source,
    })?;
    let map: RegisterMap = toml::from_str(&text).map_err(|source| MapError::Parse {
        path: path.to_owned(),
        source,
    })?;
    if map.format != MAP_FORMAT {
        return Err(MapError::Format {
            path: path.to_owned(),
            found: map.format,
        });
    }
    Ok(map)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::map_file::tests::sample;

    #[test]
    fn round_trip_through_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.toml");
        let map = sample(300);
        write_map(&path, &map).unwrap();
        assert_eq!(read_map(&path).unwrap(), map);
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["map.toml"], "temporary file left behind");
        // Overwriting an existing map works too.
        write_map(&path, &sample(3)).unwrap();
        assert_eq!(read_map(&path).unwrap().machines, 3);
    }

    #[test]
    fn rejects_other_formats_and_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("map.toml");
        fs::write(&path, "format = 2\nseed = 1\nmachines = 0\ntick_ms = 0\n").unwrap();
        assert!(matches!(
            read_map(&path),
            Err(MapError::Format { found: 2, .. })
        ));
        fs::write(&path, "format = \"x\"").unwrap();
        assert!(matches!(read_map(&path), Err(MapError::Parse { .. })));
        assert!(matches!(
            read_map(dir.path().join("missing")),
            Err(MapError::Read { .. })
        ));
        let no_dir = dir.path().join("missing").join("map.toml");
        assert!(matches!(
            write_map(&no_dir, &sample(1)),
            Err(MapError::Write { .. })
        ));
    }
}
