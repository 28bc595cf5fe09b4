//! The OFAC data the screener uses: the snapshot compiled into the binary, or a folder laid out
//! like `data/ofac/` that is re-read when it changes. A reload builds the new lists fully
//! before swapping them in, so a broken refresh leaves the old lists screening.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use rialto_compliance::{
    AssetListText, ComplianceError, NameIndex, OfacManifest, SanctionsList, SdnInput, SdnList,
};
use sha2::{Digest, Sha256};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/ofac_embedded.rs"));
}

#[derive(Debug, thiserror::Error)]
pub enum ListsError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("file {0} named by SOURCE is missing")]
    Missing(String),
    #[error(transparent)]
    Data(#[from] ComplianceError),
    #[error("invalid compliance settings: {0}")]
    Config(String),
}

/// The loaded lists and where they came from.
#[derive(Debug)]
pub struct OfacLists {
    pub sanctions: SanctionsList,
    pub names: NameIndex,
    /// `embedded` or the folder's path.
    pub source: String,
    /// Entries in the SDN list (primary names), for reports.
    pub sdn_entries: usize,
    /// When `rialto compliance refresh` fetched them (SOURCE's `fetched_at_ms`); `None`:
    /// unknown age (the compiled-in snapshot, a folder written otherwise).
    pub fetched_at_ms: Option<i64>,
}

impl OfacLists {
    /// Every list version a decision records, e.g. `["ofac-addr:…", "ofac-sdn:…"]`.
    pub fn versions(&self) -> Vec<String> {
        vec![
            self.sanctions.version().to_owned(),
            self.names.version().to_owned(),
        ]
    }

    /// Builds the lists from `(relative path, text)` files.
    fn build(files: &BTreeMap<String, String>, source: String) -> Result<Self, ListsError> {
        let get = |name: &str| {
            files
                .get(name)
                .map(String::as_str)
                .ok_or_else(|| ListsError::Missing(name.to_owned()))
        };
        let manifest = OfacManifest::parse(get("SOURCE")?)?;
        let lists: Vec<AssetListText<'_>> = files
            .iter()
            .filter_map(|(name, text)| {
                let asset = name
                    .strip_prefix("sanctioned_addresses_")?
                    .strip_suffix(".txt")?;
                Some(AssetListText { asset, text })
            })
            .collect();
        let sanctions = SanctionsList::from_lists(&lists, &manifest.addresses_commit)?;
        let aliases = match &manifest.aliases {
            Some((alt, old)) => Some((get(alt)?, get(old)?)),
            None => None,
        };
        let sdn = SdnList::parse(SdnInput {
            sdn_csv: get(&manifest.sdn)?,
            aliases,
        })?;
        Ok(Self {
            names: NameIndex::build(&sdn),
            sdn_entries: sdn.entries.len(),
            fetched_at_ms: manifest.fetched_at_ms,
            sanctions,
            source,
        })
    }

    /// The snapshot compiled into this binary, built once per process and shared.
    pub fn embedded() -> Result<Arc<Self>, Arc<ListsError>> {
        static EMBEDDED: OnceLock<Result<Arc<OfacLists>, Arc<ListsError>>> = OnceLock::new();
        EMBEDDED
            .get_or_init(|| {
                let files = embedded::OFAC_FILES
                    .iter()
                    .map(|(name, text)| ((*name).to_owned(), (*text).to_owned()))
                    .collect();
                Self::build(&files, "embedded".into())
                    .map(Arc::new)
                    .map_err(Arc::new)
            })
            .clone()
    }

    /// Reads a folder laid out like `data/ofac/` (what `tools/refresh-ofac.sh` writes).
    pub fn from_dir(dir: &Path) -> Result<Self, ListsError> {
        let mut files = BTreeMap::new();
        for path in list_files(dir)? {
            let text = std::fs::read_to_string(&path).map_err(|source| ListsError::Read {
                path: path.display().to_string(),
                source,
            })?;
            let relative = path
                .strip_prefix(dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            files.insert(relative, text);
        }
        Self::build(&files, dir.display().to_string())
    }
}

/// The files of a list folder that matter: SOURCE, the address lists, the SDN CSVs.
fn list_files(dir: &Path) -> Result<Vec<PathBuf>, ListsError> {
    let read_dir = |d: &Path| {
        std::fs::read_dir(d).map_err(|source| ListsError::Read {
            path: d.display().to_string(),
            source,
        })
    };
    let mut out = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(d) = pending.pop() {
        for entry in read_dir(&d)?.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            if path.is_dir() {
                pending.push(path);
            } else if name == "SOURCE" || name.ends_with(".txt") || name.ends_with(".csv") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A cheap fingerprint of a list folder (names, sizes, modification times), to notice that a
/// refresh happened without re-reading megabytes every few seconds.
pub fn dir_fingerprint(dir: &Path) -> Result<String, ListsError> {
    let mut hasher = Sha256::new();
    for path in list_files(dir)? {
        let meta = std::fs::metadata(&path).map_err(|source| ListsError::Read {
            path: path.display().to_string(),
            source,
        })?;
        let modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update(meta.len().to_be_bytes());
        hasher.update(modified.to_be_bytes());
    }
    Ok(hex::encode(hasher.finalize()))
}
