//! A small typed reader over a TOML table that remembers which keys were read, so that every
//! key nobody asked for can be reported by name.

use std::collections::BTreeSet;
use std::path::PathBuf;

use toml::{Table, Value};

/// A bad configuration value: start-up stops with this message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The full key path, e.g. `listener.timeout` or `provider[1].provider_type`.
    pub key: String,
    /// Why the value was refused.
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "config key `{}`: {}", self.key, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// One section of the file (a table), with its path for messages.
pub(crate) struct Section<'a> {
    path: String,
    table: &'a Table,
    read: BTreeSet<&'static str>,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a float",
        Value::Boolean(_) => "a boolean",
        Value::Datetime(_) => "a date",
        Value::Array(_) => "an array",
        Value::Table(_) => "a table",
    }
}

impl<'a> Section<'a> {
    pub(crate) fn new(path: impl Into<String>, table: &'a Table) -> Section<'a> {
        Section {
            path: path.into(),
            table,
            read: BTreeSet::new(),
        }
    }

    /// The full path of `key` in this section.
    pub(crate) fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_string()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    pub(crate) fn error(&self, key: &str, reason: impl Into<String>) -> ConfigError {
        ConfigError {
            key: self.key_path(key),
            reason: reason.into(),
        }
    }

    fn wrong_type(&self, key: &str, expected: &str, found: &Value) -> ConfigError {
        self.error(
            key,
            format!("expected {expected}, found {}", type_name(found)),
        )
    }

    /// The raw value of `key`, marking it as read.
    pub(crate) fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.read.insert(key);
        self.table.get(key)
    }

    /// Marks `key` as known without reading it (an upstream key this service has no use for).
    pub(crate) fn ignore(&mut self, key: &'static str) -> bool {
        self.read.insert(key);
        self.table.contains_key(key)
    }

    pub(crate) fn bool(&mut self, key: &'static str) -> Result<Option<bool>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Boolean(b)) => Ok(Some(*b)),
            Some(other) => Err(self.wrong_type(key, "true or false", other)),
        }
    }

    pub(crate) fn string(&mut self, key: &'static str) -> Result<Option<&'a str>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.as_str())),
            Some(other) => Err(self.wrong_type(key, "a string", other)),
        }
    }

    pub(crate) fn required_string(&mut self, key: &'static str) -> Result<&'a str, ConfigError> {
        self.string(key)?
            .ok_or_else(|| self.error(key, "is required"))
    }

    /// A non-empty path.
    pub(crate) fn path_value(&mut self, key: &'static str) -> Result<Option<PathBuf>, ConfigError> {
        match self.string(key)? {
            None => Ok(None),
            Some("") => Err(self.error(key, "must not be empty")),
            Some(s) => Ok(Some(PathBuf::from(s))),
        }
    }

    /// An integer in `min..=max`.
    pub(crate) fn integer(
        &mut self,
        key: &'static str,
        min: u64,
        max: u64,
    ) -> Result<Option<u64>, ConfigError> {
        let value = match self.value(key) {
            None => return Ok(None),
            Some(Value::Integer(i)) => *i,
            Some(other) => return Err(self.wrong_type(key, "an integer", other)),
        };
        match u64::try_from(value) {
            Ok(v) if (min..=max).contains(&v) => Ok(Some(v)),
            _ => Err(self.error(key, format!("{value} is outside {min}..={max}"))),
        }
    }

    /// A sub-table.
    pub(crate) fn table(&mut self, key: &'static str) -> Result<Option<&'a Table>, ConfigError> {
        match self.value(key) {
            None => Ok(None),
            Some(Value::Table(t)) => Ok(Some(t)),
            Some(other) => Err(self.wrong_type(key, "a table", other)),
        }
    }

    /// A table, or an array of tables (`[x]` and `[[x]]` both accepted).
    pub(crate) fn tables(&mut self, key: &'static str) -> Result<Vec<&'a Table>, ConfigError> {
        match self.value(key) {
            None => Ok(Vec::new()),
            Some(Value::Table(t)) => Ok(vec![t]),
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Table(t) => Ok(t),
                    other => Err(self.error(
                        &format!("{key}[{i}]"),
                        format!("expected a table, found {}", type_name(other)),
                    )),
                })
                .collect(),
            Some(other) => Err(self.wrong_type(key, "a table or an array of tables", other)),
        }
    }

    /// The keys present that nothing read, with their full paths.
    pub(crate) fn unread(&self) -> Vec<String> {
        self.table
            .keys()
            .filter(|k| !self.read.contains(k.as_str()))
            .map(|k| self.key_path(k))
            .collect()
    }
}
