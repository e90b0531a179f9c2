//! Where the PostgreSQL URL comes from: inline (`postgres_url`, warned about when it holds a
//! password), a file (`postgres_url_file`, trimmed) or an environment variable
//! (`postgres_url_env`, default `SENTIA_PG_URL`). Exactly one source may be configured.

use std::path::PathBuf;

use super::DEFAULT_PG_URL_ENV;
use super::problem::Origin;
use super::validate::Check;

pub(crate) fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

pub(crate) fn postgres_url(
    c: &mut Check<'_>,
    inline: Option<(String, Origin)>,
    file: Option<(PathBuf, Origin)>,
    env_name: Option<(String, Origin)>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<String> {
    let given = [inline.is_some(), file.is_some(), env_name.is_some()];
    if given.iter().filter(|g| **g).count() > 1 {
        let origin = [
            &inline.as_ref().map(|v| v.1.clone()),
            &file.as_ref().map(|v| v.1.clone()),
        ]
        .into_iter()
        .flatten()
        .next()
        .cloned()
        .unwrap_or(Origin::Default);
        c.fail(
            &origin,
            "storage.postgres_url",
            "set only one of postgres_url, postgres_url_file and postgres_url_env",
        );
        return None;
    }
    let (url, origin, field) = if let Some((url, origin)) = inline {
        if crate::config::redact_url(&url) != url {
            tracing::warn!(
                "storage.postgres_url holds a password; prefer postgres_url_env or postgres_url_file"
            );
        }
        (url, origin, "storage.postgres_url")
    } else if let Some((path, origin)) = file {
        match std::fs::read_to_string(&path) {
            Ok(text) => (text.trim().to_owned(), origin, "storage.postgres_url_file"),
            Err(e) => {
                c.fail(
                    &origin,
                    "storage.postgres_url_file",
                    format!("cannot read {}: {e}", path.display()),
                );
                return None;
            }
        }
    } else {
        let (name, origin) = env_name.unwrap_or((DEFAULT_PG_URL_ENV.to_owned(), Origin::Default));
        match env(&name).filter(|v| !v.trim().is_empty()) {
            Some(v) => (v.trim().to_owned(), origin, "storage.postgres_url_env"),
            None => {
                c.fail(
                    &origin,
                    "storage.postgres_url_env",
                    format!(
                        "environment variable {name} is not set (it should hold the PostgreSQL URL)"
                    ),
                );
                return None;
            }
        }
    };
    if !is_postgres_url(&url) {
        c.fail(
            &origin,
            field,
            "the PostgreSQL URL must start with postgres:// or postgresql://",
        );
        return None;
    }
    Some(url)
}
