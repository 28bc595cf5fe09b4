//! `rialto compliance refresh`: downloads the sanctions lists in OFAC's official formats from
//! `[compliance.refresh]`, verifies them and replaces `compliance.ofac_dir` with them.
//!
//! Protocol, in order, so a failed refresh never touches the lists in force:
//! 1. every file is fetched over HTTPS (plain `http://`, also after a redirect, is refused)
//!    through the gateway's one TLS configuration ([`crate::tls`]), each capped in size:
//!    `SDN.CSV`, optionally `ALT.CSV`, and `sanctioned_addresses_<ASSET>.txt` per asset;
//! 2. pinned SHA-256 sums (`compliance.refresh.sha256`) are compared;
//! 3. the files are written, with a `SOURCE` naming them and `fetched_at_ms`, into a fresh
//!    sibling folder `<ofac_dir>.refresh-<ms>` and synced to disk;
//! 4. that folder is loaded exactly as the gateway loads lists (every file parsed in full)
//!    and must hold at least `min_sdn_entries` SDN entries and `min_addresses` addresses;
//! 5. the folder is swapped in with two renames: the old one becomes `<ofac_dir>.previous`
//!    (the way back), the new one `<ofac_dir>`.
//!
//! Running gateways re-read `ofac_dir` when its files change (`compliance.watch_secs`, 30 s by
//! default) or at once on `rialto compliance reload`; a reload that happens to look between
//! the two renames fails, is logged, keeps the previous lists, and succeeds on the next tick.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rialto_engine::compliance::lists::{ListsError, OfacLists};
use rialto_engine::config::{ComplianceConfig, ListsRefreshConfig};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::http_client::CONNECT_TIMEOUT;

/// How long one file's download may take in all.
const FETCH_TIMEOUT: Duration = Duration::from_secs(300);

/// Why a refresh stopped; the lists in force are untouched in every case.
#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    #[error("compliance.ofac_dir is empty: set the folder the gateway screens against")]
    NoFolder,
    #[error("compliance.refresh.{0} is not set")]
    Missing(&'static str),
    #[error("compliance.refresh.{key}: {url:?} is not an https:// URL")]
    NotHttps { key: &'static str, url: String },
    #[error("compliance.refresh.assets: {0:?} is not an asset code (A-Z, 0-9)")]
    BadAsset(String),
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("{file}: SHA-256 {got} is not the pinned {want}")]
    Checksum {
        file: String,
        got: String,
        want: String,
    },
    #[error("the downloaded lists do not load: {0}")]
    Invalid(#[from] ListsError),
    #[error("the download has {got} {what}, fewer than the minimum {min}: refused as truncated")]
    TooFew {
        what: &'static str,
        got: usize,
        min: usize,
    },
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

/// One downloaded file.
#[derive(Debug, Clone, Serialize)]
pub struct FetchedFile {
    /// Its path inside `ofac_dir`.
    pub name: String,
    pub url: String,
    pub bytes: usize,
    pub sha256: String,
}

/// What a refresh did.
#[derive(Debug, Clone, Serialize)]
pub struct RefreshReport {
    pub ofac_dir: String,
    /// Where the lists it replaced now are, if there were any.
    pub previous_dir: Option<String>,
    pub fetched_at_ms: i64,
    pub files: Vec<FetchedFile>,
    pub sdn_entries: usize,
    pub sanctioned_addresses: usize,
    pub list_versions: Vec<String>,
}

/// Runs the refresh (see the module's protocol) at `now_ms`.
pub async fn refresh(
    config: &ComplianceConfig,
    tls: &Arc<rustls::ClientConfig>,
    now_ms: i64,
) -> Result<RefreshReport, RefreshError> {
    let r = &config.refresh;
    let target = PathBuf::from(&config.ofac_dir);
    if config.ofac_dir.trim().is_empty() {
        return Err(RefreshError::NoFolder);
    }
    let sources = sources(r)?;
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(rustls::ClientConfig::clone(tls))
        .https_only(true)
        .redirect(reqwest::redirect::Policy::limited(5))
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(FETCH_TIMEOUT)
        .build()
        .map_err(|e| RefreshError::Client(e.to_string()))?;
    let mut downloads = Vec::new();
    for (name, url) in sources {
        let text = fetch(&client, &url, r.max_file_bytes).await?;
        let sha256 = hex::encode(Sha256::digest(text.as_bytes()));
        let file = name.rsplit('/').next().unwrap_or(&name).to_owned();
        if let Some(want) = r.sha256.get(&file) {
            if !want.eq_ignore_ascii_case(&sha256) {
                return Err(RefreshError::Checksum {
                    file,
                    got: sha256,
                    want: want.clone(),
                });
            }
        }
        let fetched = FetchedFile {
            name,
            url,
            bytes: text.len(),
            sha256,
        };
        downloads.push((fetched, text));
    }
    let staging = sibling(&target, &format!("refresh-{now_ms}"));
    let outcome = stage_and_verify(&staging, &downloads, r, now_ms).await;
    let lists = match outcome {
        Ok(lists) => lists,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    let previous_dir = swap_in(&staging, &target)?;
    Ok(RefreshReport {
        ofac_dir: target.display().to_string(),
        previous_dir: previous_dir.map(|p| p.display().to_string()),
        fetched_at_ms: now_ms,
        files: downloads.into_iter().map(|(f, _)| f).collect(),
        sdn_entries: lists.sdn_entries,
        sanctioned_addresses: lists.sanctions.len(),
        list_versions: lists.versions(),
    })
}

/// `(path inside ofac_dir, URL)` of every file to download.
fn sources(r: &ListsRefreshConfig) -> Result<Vec<(String, String)>, RefreshError> {
    let https = |key: &'static str, url: &str| {
        if url.trim().is_empty() {
            Err(RefreshError::Missing(key))
        } else if !url.starts_with("https://") {
            Err(RefreshError::NotHttps {
                key,
                url: url.to_owned(),
            })
        } else {
            Ok(url.to_owned())
        }
    };
    let mut out = vec![("sdn/sdn.csv".to_owned(), https("sdn_url", &r.sdn_url)?)];
    if !r.alt_url.is_empty() {
        out.push(("sdn/alt.csv".to_owned(), https("alt_url", &r.alt_url)?));
    }
    let base = https("addresses_url", &r.addresses_url)?;
    let base = if base.ends_with('/') {
        base
    } else {
        format!("{base}/")
    };
    if r.assets.is_empty() {
        return Err(RefreshError::Missing("assets"));
    }
    for asset in &r.assets {
        // The code becomes a file name: nothing but letters and digits.
        if asset.is_empty()
            || !asset
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Err(RefreshError::BadAsset(asset.clone()));
        }
        let file = format!("sanctioned_addresses_{asset}.txt");
        out.push((file.clone(), format!("{base}{file}")));
    }
    Ok(out)
}

/// Downloads `url` (200 only, at most `max_bytes`) as text. OFAC's files are ASCII in
/// practice; a body that is not UTF-8 is read as Latin-1, byte for character, rather than
/// refused, so an accented name in a future file cannot stop refreshes.
async fn fetch(
    client: &reqwest::Client,
    url: &str,
    max_bytes: u64,
) -> Result<String, RefreshError> {
    let failed = |reason: String| RefreshError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(describe(&e)))?;
    if response.status() != reqwest::StatusCode::OK {
        return Err(failed(format!("answered {}", response.status())));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(describe(&e)))? {
        body.extend_from_slice(&chunk);
        if body.len() as u64 > max_bytes {
            return Err(failed(format!(
                "larger than compliance.refresh.max_file_bytes ({max_bytes})"
            )));
        }
    }
    Ok(match String::from_utf8(body) {
        Ok(text) => text,
        Err(e) => e.into_bytes().iter().map(|&b| char::from(b)).collect(),
    })
}

/// reqwest's error with its causes (the TLS reason sits in the chain).
fn describe(e: &reqwest::Error) -> String {
    let mut out = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        source = cause.source();
    }
    out
}

/// Writes the downloads and their SOURCE into `staging` and loads them as the gateway would.
async fn stage_and_verify(
    staging: &Path,
    downloads: &[(FetchedFile, String)],
    r: &ListsRefreshConfig,
    now_ms: i64,
) -> Result<OfacLists, RefreshError> {
    let has_alt = downloads.iter().any(|(f, _)| f.name == "sdn/alt.csv");
    let mut files: Vec<(String, String)> = downloads
        .iter()
        .map(|(f, text)| (f.name.clone(), text.clone()))
        .collect();
    files.push(("SOURCE".into(), source_text(downloads, has_alt, now_ms)));
    for (name, text) in &files {
        write_synced(&staging.join(name), text.as_bytes())?;
    }
    sync_dir(&staging.join("sdn"))?;
    sync_dir(staging)?;
    let dir = staging.to_path_buf();
    let lists = tokio::task::spawn_blocking(move || OfacLists::from_dir(&dir))
        .await
        .map_err(|e| RefreshError::Client(format!("list loading panicked: {e}")))??;
    if lists.sdn_entries < r.min_sdn_entries {
        return Err(RefreshError::TooFew {
            what: "SDN entries",
            got: lists.sdn_entries,
            min: r.min_sdn_entries,
        });
    }
    if lists.sanctions.len() < r.min_addresses {
        return Err(RefreshError::TooFew {
            what: "sanctioned addresses",
            got: lists.sanctions.len(),
            min: r.min_addresses,
        });
    }
    Ok(lists)
}

/// The manifest the gateway reads (`rialto_compliance::OfacManifest`); unknown keys are
/// notes for people. The aliases join against the same download's SDN file.
fn source_text(downloads: &[(FetchedFile, String)], has_alt: bool, now_ms: i64) -> String {
    let mut out = String::from(
        "# Written by `rialto compliance refresh`; read by the gateway (data/ofac/README.md).\n",
    );
    // Shown in list versions (`ofac-addr:<hash>@<this>`), which keep 12 characters.
    out.push_str(&format!("addresses_commit={}\n", utc_minute(now_ms)));
    out.push_str("sdn=sdn/sdn.csv\n");
    if has_alt {
        out.push_str("aliases=sdn/alt.csv\naliases_sdn=sdn/sdn.csv\n");
    }
    out.push_str(&format!("fetched_at_ms={now_ms}\n"));
    for (file, _) in downloads {
        out.push_str(&format!(
            "# {} sha256={} from {}\n",
            file.name, file.sha256, file.url
        ));
    }
    out
}

/// `YYYYMMDDhhmm` (UTC) of a Unix-milliseconds time.
fn utc_minute(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}{:02}{:02}",
        rest / 3600,
        (rest % 3600) / 60
    )
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> RefreshError + '_ {
    move |source| RefreshError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), RefreshError> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let mut file = std::fs::File::create(path).map_err(io(path))?;
    file.write_all(bytes).map_err(io(path))?;
    file.sync_all().map_err(io(path))
}

/// Makes a folder's new entries durable (a rename is only as durable as its folder).
fn sync_dir(dir: &Path) -> Result<(), RefreshError> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io(dir))
}

/// `<dir>.<suffix>` beside `dir`, so renames stay on one file system.
fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "ofac".into());
    dir.with_file_name(format!("{name}.{suffix}"))
}

/// Replaces `target` with `staging`, keeping the old folder as `<target>.previous`.
fn swap_in(staging: &Path, target: &Path) -> Result<Option<PathBuf>, RefreshError> {
    let previous = sibling(target, "previous");
    let had_lists = target.exists();
    if had_lists {
        if previous.exists() {
            std::fs::remove_dir_all(&previous).map_err(io(&previous))?;
        }
        std::fs::rename(target, &previous).map_err(io(target))?;
    }
    if let Err(e) = std::fs::rename(staging, target) {
        if had_lists {
            // Put the lists in force back where the gateway reads them.
            let _ = std::fs::rename(&previous, target);
        }
        return Err(io(staging)(e));
    }
    if let Some(parent) = target.parent().filter(|p| !p.as_os_str().is_empty()) {
        sync_dir(parent)?;
    }
    Ok(had_lists.then_some(previous))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fetch_times_become_the_utc_minute_list_versions_show() {
        assert_eq!(utc_minute(0), "197001010000");
        // 2026-12-06 19:05:00 UTC.
        assert_eq!(utc_minute(1_796_583_900_000), "202612061905");
        assert_eq!(utc_minute(951_782_400_000), "200002290000");
    }

    #[test]
    fn only_https_urls_and_plain_asset_codes_are_accepted() {
        let mut r = ListsRefreshConfig {
            sdn_url: "https://example.test/SDN.CSV".into(),
            addresses_url: "https://example.test/lists".into(),
            assets: vec!["ETH".into()],
            ..Default::default()
        };
        let files = sources(&r).unwrap();
        assert_eq!(
            files[1],
            (
                "sanctioned_addresses_ETH.txt".into(),
                "https://example.test/lists/sanctioned_addresses_ETH.txt".into()
            )
        );
        r.assets = vec!["../ETH".into()];
        assert!(matches!(sources(&r), Err(RefreshError::BadAsset(_))));
        r.assets = vec!["ETH".into()];
        r.sdn_url = "http://example.test/SDN.CSV".into();
        assert!(matches!(
            sources(&r),
            Err(RefreshError::NotHttps { key: "sdn_url", .. })
        ));
        r.sdn_url = String::new();
        assert!(matches!(sources(&r), Err(RefreshError::Missing("sdn_url"))));
    }
}
