//! Configuration: where the default store lives and the privacy policy, from `workbench.toml`.
//!
//! Looked up in order: `$WORKBENCH_CONFIG`, `./workbench.toml`, `$WORKBENCH_HOME/workbench.toml`.
//! Every key is optional; a missing file means the defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::disclosure::PrivacyPolicy;

/// The workbench configuration.
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store every command uses when none is given.
    pub store: Option<PathBuf>,
    #[serde(default)]
    pub privacy: PrivacyPolicy,
    /// The memory DuckDB may use per open store (`2GB`, `512MB`; default
    /// [`crate::store::DEFAULT_MEMORY_LIMIT`]); beyond it, queries spill to disk.
    pub memory_limit: Option<String>,
}

impl Config {
    /// Loads the configuration from the first file that exists, or the defaults.
    pub fn load() -> anyhow::Result<Config> {
        let candidates = [
            std::env::var_os("WORKBENCH_CONFIG").map(PathBuf::from),
            Some(PathBuf::from("workbench.toml")),
            Some(home().join("workbench.toml")),
        ];
        for path in candidates.into_iter().flatten() {
            if path.is_file() {
                return Config::from_file(&path);
            }
        }
        Ok(Config::default())
    }

    /// Reads one configuration file.
    pub fn from_file(path: &Path) -> anyhow::Result<Config> {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let cfg: Config = toml::from_str(&text)
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        // k = 1 publishes every count: only for stores that hold no case records (public
        // reference data, as the comparison with R in the tests uses).
        anyhow::ensure!(
            cfg.privacy.k_screen >= 1 && cfg.privacy.k_file >= cfg.privacy.k_screen,
            "{}: [privacy] needs k_screen >= 1 and k_file >= k_screen",
            path.display()
        );
        if let Some(limit) = &cfg.memory_limit {
            let accepted = duckdb::Config::default()
                .max_memory(limit)
                .and_then(duckdb::Connection::open_in_memory_with_flags);
            anyhow::ensure!(
                accepted.is_ok(),
                "{}: memory_limit = {limit:?} is not a size DuckDB accepts; write it like \"2GB\" or \"512MB\"",
                path.display()
            );
        }
        Ok(cfg)
    }

    /// The store to use: the one given, else the configured one, else the demo store.
    pub fn store_path(&self, given: Option<&Path>) -> PathBuf {
        given
            .map(Path::to_path_buf)
            .or_else(|| self.store.clone())
            .unwrap_or_else(default_store_path)
    }
}

/// The workbench's home folder: `$WORKBENCH_HOME`, else `$XDG_DATA_HOME/workbench`, else
/// `~/.local/share/workbench`.
pub fn home() -> PathBuf {
    if let Some(h) = std::env::var_os("WORKBENCH_HOME") {
        return PathBuf::from(h);
    }
    if let Some(x) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(x).join("workbench");
    }
    let user_home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    user_home.join(".local/share/workbench")
}

/// The demo store, the default of every command: `<home>/demo.duckdb`.
pub fn default_store_path() -> PathBuf {
    home().join("demo.duckdb")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_privacy_and_refuses_unknown_keys() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.toml");
        std::fs::write(&p, "[privacy]\nk_screen = 6\n").unwrap();
        let c = Config::from_file(&p).unwrap();
        assert_eq!(
            c.privacy,
            PrivacyPolicy {
                k_screen: 6,
                k_file: 10
            }
        );
        std::fs::write(&p, "[privacy]\nk = 6\n").unwrap();
        assert!(Config::from_file(&p).is_err());
        std::fs::write(&p, "[privacy]\nk_screen = 0\n").unwrap();
        assert!(Config::from_file(&p).is_err());
        std::fs::write(&p, "[privacy]\nk_screen = 8\nk_file = 6\n").unwrap();
        assert!(Config::from_file(&p).is_err());
    }

    #[test]
    fn a_memory_limit_must_be_a_size() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("w.toml");
        std::fs::write(&p, "memory_limit = \"2GB\"\n").unwrap();
        assert_eq!(
            Config::from_file(&p).unwrap().memory_limit.as_deref(),
            Some("2GB")
        );
        std::fs::write(&p, "memory_limit = \"lots\"\n").unwrap();
        let err = format!("{:#}", Config::from_file(&p).unwrap_err());
        assert!(err.contains("memory_limit") && err.contains("2GB"), "{err}");
    }
}
