//! Configuration problems: where they are (file, line, column, field path) and what is
//! wrong. Every problem found is collected, then reported together.

use std::fmt;
use std::io;
use std::ops::Range;
use std::path::PathBuf;

/// One problem in a configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
    /// Field path such as `device[motor-01].tag[speed].type`; empty for syntax errors.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// Why a configuration could not be loaded. Both kinds make the binary exit with 64.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{}: cannot read configuration file: {source}", path.display())]
    Read {
        /// The path given.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The file was read but is invalid; every problem found is listed.
    #[error("{}", render(file, problems))]
    Invalid {
        /// The file name, as given.
        file: String,
        /// Problems, in file order.
        problems: Vec<Problem>,
    },
}

impl ConfigError {
    /// The problems found (empty for [`ConfigError::Read`]).
    pub fn problems(&self) -> &[Problem] {
        match self {
            ConfigError::Read { .. } => &[],
            ConfigError::Invalid { problems, .. } => problems,
        }
    }
}

fn render(file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for (i, p) in problems.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        out.push_str(&format!("{file}:{}:{}: ", p.line, p.column));
        if !p.path.is_empty() {
            out.push_str(&p.path);
            out.push_str(": ");
        }
        out.push_str(&p.message);
    }
    out
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.line, self.column, self.path, self.message
        )
    }
}

/// Collects problems against one source text.
#[derive(Debug)]
pub(super) struct Diagnostics<'s> {
    source: &'s str,
    found: Vec<(usize, String, String)>,
}

impl<'s> Diagnostics<'s> {
    pub(super) fn new(source: &'s str) -> Self {
        Self {
            source,
            found: Vec::new(),
        }
    }

    /// Records a problem at the start of `span`.
    pub(super) fn error(
        &mut self,
        span: &Range<usize>,
        path: impl Into<String>,
        msg: impl Into<String>,
    ) {
        self.found.push((span.start, path.into(), msg.into()));
    }

    /// The 1-based line of byte `offset`.
    pub(super) fn line_of(&self, offset: usize) -> usize {
        line_column(self.source, offset).0
    }

    pub(super) fn is_empty(&self) -> bool {
        self.found.is_empty()
    }

    /// Turns the collected problems into an error, in file order (`None` if there are none).
    pub(super) fn into_error(self, file: &str) -> Option<ConfigError> {
        if self.found.is_empty() {
            return None;
        }
        let mut found = self.found;
        found.sort_by_key(|(offset, _, _)| *offset);
        let problems = found
            .into_iter()
            .map(|(offset, path, message)| {
                let (line, column) = line_column(self.source, offset);
                Problem {
                    line,
                    column,
                    path,
                    message,
                }
            })
            .collect();
        Some(ConfigError::Invalid {
            file: file.to_owned(),
            problems,
        })
    }
}

/// 1-based line and column (in characters) of byte `offset` in `source`.
pub(super) fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(source.len());
    let before = source.get(..offset).unwrap_or(source);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_become_lines_and_columns() {
        let src = "a = 1\nbé = 2\n\nc";
        assert_eq!(line_column(src, 0), (1, 1));
        assert_eq!(line_column(src, 4), (1, 5));
        assert_eq!(line_column(src, 6), (2, 1));
        assert_eq!(line_column(src, 9), (2, 3)); // after the two-byte 'é'
        assert_eq!(line_column(src, 14), (3, 1));
        assert_eq!(line_column(src, 15), (4, 1));
        assert_eq!(line_column(src, 99), (4, 2));
    }

    #[test]
    fn problems_render_one_per_line_in_file_order() {
        let src = "x\ny\n";
        let mut d = Diagnostics::new(src);
        d.error(&(2..3), "b", "second");
        d.error(&(0..1), "", "first");
        let err = d.into_error("agent.toml").into_iter().next();
        let text = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(text, "agent.toml:1:1: first\nagent.toml:2:1: b: second");
    }
}
