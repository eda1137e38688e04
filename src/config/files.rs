//! Checking, before anything starts, that the files a configuration names can be used, so a host that validates
//! its configuration first (the reference host, Kamailio) refuses an unusable path as a configuration error that
//! names the key, not as a failure to start.

use super::{Config, ConfigError};
use std::fs::OpenOptions;
use std::path::Path;

impl Config {
    /// Checks that `trace_file` can be opened for appending (the core opens it so when it starts). A file that
    /// does not exist yet is created to prove it can be, then removed again.
    pub fn check_files(&self) -> Result<(), ConfigError> {
        let Some(path) = &self.trace_file else {
            return Ok(());
        };
        appendable(path).map_err(|e| ConfigError {
            key: "trace_file".into(),
            value: Some(path.display().to_string()),
            message: format!("cannot be opened for appending ({e}); expected a writable file path"),
        })
    }
}

fn appendable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Err(std::io::Error::other("it is a directory"));
    }
    let existed = path.exists();
    OpenOptions::new().create(true).append(true).open(path)?;
    if !existed {
        // Best effort: the core creates it again when it starts.
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_trace(p: &str) -> Config {
        Config {
            trace_file: Some(p.into()),
            ..Config::default()
        }
    }

    #[test]
    fn an_unusable_trace_file_is_refused_with_its_key() {
        let e = with_trace("/nonexistent-dir/x.trace")
            .check_files()
            .unwrap_err();
        let text = e.to_string();
        assert!(
            text.starts_with("key \"trace_file\": invalid value \"/nonexistent-dir/x.trace\""),
            "{text}"
        );
        assert!(with_trace("/")
            .check_files()
            .unwrap_err()
            .to_string()
            .contains("directory"));
        let dir = std::env::temp_dir().join(format!("prom_rs_files_{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join("new.trace");
        with_trace(fresh.to_str().unwrap()).check_files().unwrap();
        assert!(!fresh.exists(), "the check left the file it created");
        std::fs::write(&fresh, "kept").unwrap();
        with_trace(fresh.to_str().unwrap()).check_files().unwrap();
        assert_eq!(std::fs::read_to_string(&fresh).unwrap(), "kept");
        let _ = std::fs::remove_dir_all(dir);
        assert!(Config::default().check_files().is_ok());
    }
}
