//! Reads one TOML table key by key, with spans, so that every bad or unknown key is
//! reported (serde's derive stops at the first) and each problem points at its own line.
//!
//! Values are deserialized with serde from the spanned document `toml::de::DeTable`
//! produces; [`TableReader::finish`] plays the role of `deny_unknown_fields`.

use std::ops::Range;
use std::time::Duration;

use serde::de::DeserializeOwned;
use toml::Spanned;
use toml::de::{DeTable, DeValue, ValueDeserializer};

use super::diagnostic::Diagnostics;

/// A byte range in the source.
pub(super) type Span = Range<usize>;

/// A value with the span it was read from.
pub(super) type At<T> = Spanned<T>;

/// Reads the keys of one table and remembers which ones were read.
pub(super) struct TableReader<'t, 'i> {
    table: &'t DeTable<'i>,
    span: Span,
    path: String,
    fields: &'static [&'static str],
    used: Vec<&'t str>,
}

impl<'t, 'i> TableReader<'t, 'i> {
    /// A reader for `value`, which must be a table (otherwise a problem is recorded).
    pub(super) fn new(
        d: &mut Diagnostics<'_>,
        value: &'t Spanned<DeValue<'i>>,
        path: String,
        fields: &'static [&'static str],
    ) -> Option<Self> {
        match value.get_ref() {
            DeValue::Table(table) => Some(Self::from_table(table, value.span(), path, fields)),
            other => {
                d.error(
                    &value.span(),
                    path,
                    format!("expected a table, found {}", other.type_str()),
                );
                None
            }
        }
    }

    pub(super) fn from_table(
        table: &'t DeTable<'i>,
        span: Span,
        path: String,
        fields: &'static [&'static str],
    ) -> Self {
        Self {
            table,
            span,
            path,
            fields,
            used: Vec::new(),
        }
    }

    /// The table's span (where "missing field" problems point).
    pub(super) fn span(&self) -> Span {
        self.span.clone()
    }

    /// The path of a key of this table, e.g. `device[motor-01].port`.
    pub(super) fn path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Renames the table in later paths (once its id is known).
    pub(super) fn set_path(&mut self, path: String) {
        self.path = path;
    }

    /// The raw value of `key`, marking it as read.
    pub(super) fn raw(&mut self, key: &str) -> Option<&'t Spanned<DeValue<'i>>> {
        let (k, v) = self
            .table
            .iter()
            .find(|(k, _)| k.get_ref().as_ref() == key)?;
        self.used.push(k.get_ref().as_ref());
        Some(v)
    }

    /// An optional value of type `T`.
    pub(super) fn opt<T: DeserializeOwned>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &str,
    ) -> Option<At<T>> {
        let value = self.raw(key)?;
        match T::deserialize(ValueDeserializer::from(value.clone())) {
            Ok(v) => Some(Spanned::new(value.span(), v)),
            Err(e) => {
                d.error(&value.span(), self.path(key), e.message().to_owned());
                None
            }
        }
    }

    /// A required value of type `T`.
    pub(super) fn req<T: DeserializeOwned>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &str,
    ) -> Option<At<T>> {
        if self.table.iter().all(|(k, _)| k.get_ref().as_ref() != key) {
            self.missing(d, key);
            return None;
        }
        self.opt(d, key)
    }

    /// Records that required `key` is absent.
    pub(super) fn missing(&self, d: &mut Diagnostics<'_>, key: &str) {
        d.error(&self.span, self.path(key), "missing required field");
    }

    /// An optional duration written as a human string ("250ms", "1s", "1m 30s").
    pub(super) fn duration(&mut self, d: &mut Diagnostics<'_>, key: &str) -> Option<At<Duration>> {
        let text = self.opt::<String>(d, key)?;
        match humantime::parse_duration(text.get_ref()) {
            Ok(v) => Some(Spanned::new(text.span(), v)),
            Err(e) => {
                d.error(
                    &text.span(),
                    self.path(key),
                    format!(
                        "invalid duration {:?}: {e} (write e.g. \"500ms\", \"1s\", \"2m\")",
                        text.get_ref()
                    ),
                );
                None
            }
        }
    }

    /// An optional keyword such as a register kind, parsed by `parse`; `what` names it in
    /// the message and `expected` lists the accepted spellings.
    pub(super) fn keyword<T>(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &str,
        what: &str,
        expected: &[&str],
        parse: impl Fn(&str) -> Option<T>,
    ) -> Option<At<T>> {
        let text = self.opt::<String>(d, key)?;
        match parse(text.get_ref()) {
            Some(v) => Some(Spanned::new(text.span(), v)),
            None => {
                d.error(
                    &text.span(),
                    self.path(key),
                    format!(
                        "unknown {what} {:?} (expected {})",
                        text.get_ref(),
                        expected.join(", ")
                    ),
                );
                None
            }
        }
    }

    /// The elements of an array of tables (`[[key]]`), with their index.
    pub(super) fn tables(
        &mut self,
        d: &mut Diagnostics<'_>,
        key: &str,
    ) -> Vec<&'t Spanned<DeValue<'i>>> {
        let Some(value) = self.raw(key) else {
            return Vec::new();
        };
        match value.get_ref() {
            DeValue::Array(items) => items.iter().collect(),
            other => {
                d.error(
                    &value.span(),
                    self.path(key),
                    format!(
                        "expected an array of tables ([[{key}]]), found {}",
                        other.type_str()
                    ),
                );
                Vec::new()
            }
        }
    }

    /// Reports every key that was not read as unknown.
    pub(super) fn finish(self, d: &mut Diagnostics<'_>) {
        for (k, _) in self.table.iter() {
            let name: &str = k.get_ref().as_ref();
            if !self.used.contains(&name) {
                d.error(
                    &k.span(),
                    self.path(name),
                    format!(
                        "unknown field (expected one of: {})",
                        self.fields.join(", ")
                    ),
                );
            }
        }
    }
}
