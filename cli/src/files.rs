//! Finding the log files to replay: walk folders, classify names, order by delivery time.
use std::path::{Path, PathBuf};
use trailsight_core::log::object_key::{classify, Classified, LogKey, SkipReason};

/// A log file to read.
#[derive(Debug, Clone)]
pub struct LogFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its parsed name.
    pub key: LogKey,
    /// Size on disk in bytes.
    pub size: u64,
}

/// The files found under the given paths.
#[derive(Debug, Default)]
pub struct Found {
    /// Log files in delivery order.
    pub logs: Vec<LogFile>,
    /// Objects skipped, with why.
    pub skipped: Vec<(PathBuf, SkipReason)>,
    /// Files named on the command line that are not CloudTrail log files, with why.
    pub named_not_logs: Vec<(PathBuf, SkipReason)>,
}

/// A path that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum FindError {
    /// The path does not exist or cannot be read.
    #[error("cannot read {path}: {source}; give existing CloudTrail log files or folders")]
    Path {
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Walking a folder failed.
    #[error("cannot walk {path}: {source}")]
    Walk {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: walkdir::Error,
    },
}

/// Walks `paths` and returns the log files in delivery order.
pub fn find(paths: &[PathBuf]) -> Result<Found, FindError> {
    let mut found = Found::default();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|source| FindError::Path { path: p.clone(), source })?;
        if meta.is_file() {
            let skipped = found.skipped.len();
            add(&mut found, p, meta.len());
            if let Some(s) = found.skipped.get(skipped) {
                found.named_not_logs.push(s.clone());
            }
            continue;
        }
        for entry in walkdir::WalkDir::new(p).sort_by_file_name() {
            let entry = entry.map_err(|source| FindError::Walk { path: p.clone(), source })?;
            if entry.file_type().is_file() {
                let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
                add(&mut found, entry.path(), size);
            }
        }
    }
    found.logs.sort_by(|a, b| a.key.delivered.cmp(&b.key.delivered).then_with(|| a.path.cmp(&b.path)));
    Ok(found)
}

fn add(found: &mut Found, path: &Path, size: u64) {
    let text = path.to_string_lossy().replace('\\', "/");
    match classify(&text) {
        Classified::Log(key) => found.logs.push(LogFile { path: path.to_path_buf(), key, size }),
        Classified::Skip(reason) => found.skipped.push((path.to_path_buf(), reason)),
    }
}
