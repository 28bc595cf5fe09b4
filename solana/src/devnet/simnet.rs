//! The local Solana endpoint: one `rialto-solana-simnet` child process (surfpool's offline
//! simnet on 127.0.0.1), found, started, waited for, and killed (and reaped) when dropped, so a
//! failed test never leaves a node behind.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The binary's name (`tools/solana-simnet`).
pub const SIMNET_BIN_NAME: &str = "rialto-solana-simnet";

/// Why the simnet could not be started.
#[derive(Debug, thiserror::Error)]
pub enum SimnetError {
    #[error(
        "the Solana simnet binary is not at {0}: build it with `cargo build -p rialto-solana-simnet` \
         or point SOLANA_SIMNET_BIN at it"
    )]
    NotFound(PathBuf),
    #[error("starting {path}: {source}")]
    Spawn {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the Solana simnet did not announce its RPC URL: {0}")]
    NotReady(String),
}

/// Finds the simnet binary: `explicit` (the caller's `SOLANA_SIMNET_BIN`), else the cargo
/// target directory's debug build (`CARGO_TARGET_DIR`, else `<repo_root>/target`).
pub fn locate_simnet(repo_root: &Path, explicit: Option<PathBuf>) -> Result<PathBuf, SimnetError> {
    let path = explicit.unwrap_or_else(|| {
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| repo_root.join("target"));
        target.join("debug").join(SIMNET_BIN_NAME)
    });
    if path.is_file() {
        Ok(path)
    } else {
        Err(SimnetError::NotFound(path))
    }
}

/// The simnet binary as tests find it: `SOLANA_SIMNET_BIN`, else the workspace's build.
pub fn locate_for_tests() -> Result<PathBuf, SimnetError> {
    let repo_root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    locate_simnet(
        &repo_root,
        std::env::var_os("SOLANA_SIMNET_BIN").map(PathBuf::from),
    )
}

/// A running simnet. Dropping it kills the process and waits for it.
#[derive(Debug)]
pub struct SimnetProcess {
    child: Child,
    rpc_url: String,
}

impl SimnetProcess {
    /// Starts the simnet producing a slot every `slot_ms` and waits until it prints its URL.
    pub fn start(bin: &Path, slot_ms: u64, timeout: Duration) -> Result<Self, SimnetError> {
        let mut child = Command::new(bin)
            .args(["--slot-ms", &slot_ms.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| SimnetError::Spawn {
                path: bin.to_owned(),
                source,
            })?;
        let stdout = child.stdout.take();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let Some(stdout) = stdout else { return };
            let mut lines = BufReader::new(stdout).lines();
            for line in lines.by_ref().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("SOLANA_RPC_URL=") {
                    let _ = tx.send(url.trim().to_owned());
                    break;
                }
            }
            // Keep reading so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let mut process = Self {
            child,
            rpc_url: String::new(),
        };
        process.rpc_url = rx
            .recv_timeout(timeout)
            .map_err(|_| SimnetError::NotReady(format!("nothing within {timeout:?}")))?;
        Ok(process)
    }

    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }
}

impl Drop for SimnetProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
