//! Spanned TOML parsing that reports every problem at once.
//!
//! serde stops at the first error, so after each failure the offending key (found through the
//! error's span in the spanned [`DeTable`]) is reported and removed, and deserialization runs
//! again, until the rest of the file is accepted. Syntax errors are all reported by the
//! recovering parser; deserialization is not attempted after one.

use serde::Deserialize;
use toml::Spanned;
use toml::de::{DeTable, DeValue, Deserializer};

use super::file::ConfigFile;
use super::problem::{Origin, Problem, SourceMap};

/// Parses the file text. Returns the accepted part of the file and every problem found.
pub(crate) fn parse(map: &SourceMap) -> (ConfigFile, Vec<Problem>) {
    let (mut root, errors) = DeTable::parse_recoverable(map.text());
    if !errors.is_empty() {
        let problems = errors
            .iter()
            .map(|e| {
                let origin = e.span().map_or(Origin::Default, Origin::File);
                map.problem(&origin, "toml", e.message().trim())
            })
            .collect();
        return (ConfigFile::default(), problems);
    }
    let mut problems = Vec::new();
    // Each round removes one key, so this terminates; the bound is a backstop.
    for _ in 0..=count_keys(root.get_ref()) {
        let error = match ConfigFile::deserialize(Deserializer::from(root.clone())) {
            Ok(file) => return (file, problems),
            Err(e) => e,
        };
        let origin = error.span().map_or(Origin::Default, Origin::File);
        let path = error
            .span()
            .and_then(|span| key_path_at(root.get_ref(), span.start));
        let field = path
            .as_ref()
            .map_or_else(|| "toml".to_owned(), |p| p.join("."));
        problems.push(map.problem(&origin, field, error.message().trim()));
        match path {
            Some(path) if remove_key(root.get_mut(), &path) => {}
            _ => return (ConfigFile::default(), problems),
        }
    }
    (ConfigFile::default(), problems)
}

fn count_keys(table: &DeTable<'_>) -> usize {
    table
        .values()
        .map(|v| match v.get_ref() {
            DeValue::Table(t) => 1 + count_keys(t),
            _ => 1,
        })
        .sum()
}

/// The deepest key whose key or value span contains `offset`. A `[section]` table's own span
/// covers only its header, so tables are searched whatever their span.
fn key_path_at(table: &DeTable<'_>, offset: usize) -> Option<Vec<String>> {
    for (key, value) in table.iter() {
        let name = key.get_ref().to_string();
        if let DeValue::Table(inner) = value.get_ref()
            && let Some(rest) = key_path_at(inner, offset)
        {
            let mut path = vec![name];
            path.extend(rest);
            return Some(path);
        }
        let span = value.span();
        if key.span().contains(&offset) || span.contains(&offset) || span.start == offset {
            return Some(vec![name]);
        }
    }
    None
}

fn remove_key(table: &mut DeTable<'_>, path: &[String]) -> bool {
    match path {
        [] => false,
        [last] => table.remove(last.as_str()).is_some(),
        [first, rest @ ..] => {
            table
                .get_mut(first.as_str())
                .is_some_and(|v: &mut Spanned<DeValue<'_>>| match v.get_mut() {
                    DeValue::Table(inner) => remove_key(inner, rest),
                    _ => false,
                })
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::path::Path;

    use super::*;

    fn run(text: &str) -> (ConfigFile, Vec<String>) {
        let map = SourceMap::new(Some(Path::new("t.toml")), text.to_owned());
        let (file, problems) = parse(&map);
        (file, problems.iter().map(ToString::to_string).collect())
    }

    #[test]
    fn accepts_a_full_file() {
        let (file, problems) = run(r#"
data_dir = "d"
shutdown_grace = "5s"
[mqtt]
mode = "external"
listen = "127.0.0.1:11883"
url = "mqtt://127.0.0.1:1883"
client_id = "x"
[storage]
backend = "postgres"
sqlite_path = "d/s.db"
postgres_url_env = "PG"
max_batch_points = 10
max_batch_delay = "50ms"
max_batch_messages = 4
[api]
listen = "127.0.0.1:0"
"#);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(file.storage.max_batch_points.unwrap().into_inner(), 10);
    }

    #[test]
    fn reports_every_problem_with_positions() {
        let (file, problems) = run(r#"colour = "red"
[mqtt]
listen = "not an address"
mode = "sideways"
client_id = "kept"
[storage]
max_batch_points = "many"
bogus = 1
[api]
listen = 5
"#);
        assert_eq!(problems.len(), 6, "{problems:#?}");
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:1:1: colour: unknown field")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:3:10: mqtt.listen: ")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:4:8: mqtt.mode: ")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:7:20: storage.max_batch_points: ")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:8:1: storage.bogus: unknown field")),
            "{problems:#?}"
        );
        assert!(
            problems
                .iter()
                .any(|p| p.starts_with("t.toml:10:10: api.listen: ")),
            "{problems:#?}"
        );
        // The rest of the file is still read.
        assert_eq!(file.mqtt.client_id.unwrap().into_inner(), "kept");
    }

    #[test]
    fn syntax_errors_stop_before_deserializing() {
        let (_, problems) = run("a = \n[mqtt\n");
        assert!(!problems.is_empty());
        assert!(
            problems.iter().all(|p| p.contains(": toml: ")),
            "{problems:#?}"
        );
    }
}
