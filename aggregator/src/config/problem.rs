//! One configuration problem and where it comes from, formatted as `FILE:LINE:COL: field: message`.
//!
//! Loading and validation collect every problem before giving up, so an operator fixes a file
//! in one pass (async-opcua's `Config::validate` does the same).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Where a configured value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Origin {
    /// A byte range of the config file.
    File(Range<usize>),
    /// A command-line flag such as `--mqtt-url`.
    Flag(&'static str),
    /// Built-in default.
    Default,
}

/// A problem's location, resolved to line and column where it points into the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// `FILE:LINE:COL` (1-based).
    File {
        /// The config file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column, in characters.
        col: usize,
    },
    /// The file as a whole, or a default that only matters because of the file.
    Whole(PathBuf),
    /// A command-line flag.
    Flag(&'static str),
    /// Built-in defaults with no file.
    Defaults,
}

/// One thing wrong with the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Where.
    pub location: Location,
    /// Dotted field name (`mqtt.listen`), or `toml` for syntax errors.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.location {
            Location::File { path, line, col } => write!(f, "{}:{line}:{col}: ", path.display())?,
            Location::Whole(path) => write!(f, "{}: ", path.display())?,
            Location::Flag(flag) => write!(f, "command line {flag}: ")?,
            Location::Defaults => f.write_str("built-in defaults: ")?,
        }
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// The config file's text and path, to turn byte offsets into `LINE:COL`.
#[derive(Debug, Clone)]
pub(crate) struct SourceMap {
    path: Option<PathBuf>,
    text: String,
}

impl SourceMap {
    pub(crate) fn new(path: Option<&Path>, text: String) -> Self {
        Self {
            path: path.map(Path::to_path_buf),
            text,
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// Resolves an origin into a printable location.
    pub(crate) fn locate(&self, origin: &Origin) -> Location {
        match (origin, &self.path) {
            (Origin::Flag(flag), _) => Location::Flag(flag),
            (Origin::File(span), Some(path)) => {
                let (line, col) = line_col(&self.text, span.start);
                Location::File {
                    path: path.clone(),
                    line,
                    col,
                }
            }
            (Origin::Default, Some(path)) => Location::Whole(path.clone()),
            (Origin::File(_) | Origin::Default, None) => Location::Defaults,
        }
    }

    pub(crate) fn problem(
        &self,
        origin: &Origin,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Problem {
        Problem {
            location: self.locate(origin),
            field: field.into(),
            message: message.into(),
        }
    }
}

/// 1-based line and character column of a byte offset (clamped to the text).
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    (line, col)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\n[mqtt]\nlisten = \"x\"\n";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 6), (2, 1));
        assert_eq!(line_col(text, 22), (3, 10));
        assert_eq!(line_col(text, 999), (4, 1));
    }

    #[test]
    fn problems_format_with_location() {
        let map = SourceMap::new(Some(Path::new("agg.toml")), "x = 1\ny = 2\n".into());
        let p = map.problem(&Origin::File(6..7), "y", "bad");
        assert_eq!(p.to_string(), "agg.toml:2:1: y: bad");
        let p = map.problem(&Origin::Flag("--mqtt-url"), "mqtt.url", "bad");
        assert_eq!(p.to_string(), "command line --mqtt-url: mqtt.url: bad");
    }
}
