//! One anvil child process per chain: found, started on a free loopback port, waited for, and
//! killed (and reaped) when dropped, so a failed test or deploy never leaves a node behind.

use std::collections::BTreeSet;
use std::io::Read;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use alloy::providers::{Provider, ProviderBuilder};

use crate::EvmError;

/// Where `tools/devnet/install.sh` puts anvil on linux-x64, relative to the repository root.
pub const ANVIL_REPO_PATH: &str =
    "tools/devnet/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil";

/// anvil's default mnemonic, passed explicitly so a changed default cannot move the accounts.
const TEST_MNEMONIC: &str = "test test test test test test test test test test test junk";

/// How much of anvil's stderr to keep for error messages.
const STDERR_KEEP: usize = 8 * 1024;

/// Finds the anvil binary: `explicit` if given (the caller's `ANVIL_BIN`), else the pinned npm
/// package under `repo_root`. Fails with a message that says how to install it.
pub fn locate_anvil(repo_root: &Path, explicit: Option<PathBuf>) -> Result<PathBuf, EvmError> {
    // Whoever looks for anvil talks to it next, often through a default-built client.
    crate::provider::install_crypto_provider();
    let path = explicit.unwrap_or_else(|| repo_root.join(ANVIL_REPO_PATH));
    if path.is_file() {
        Ok(path)
    } else {
        Err(EvmError::AnvilNotFound { path })
    }
}

/// A running anvil. Dropping it kills the process and waits for it.
#[derive(Debug)]
pub struct AnvilProcess {
    child: Child,
    chain_id: u64,
    rpc_url: String,
}

impl AnvilProcess {
    /// Starts anvil for `chain_id` and waits until it answers `eth_chainId` with that id.
    /// The free port is found by binding port 0 and releasing it, which another process could
    /// grab in between; a start that dies at once is therefore retried on a new port.
    pub async fn start(bin: &Path, chain_id: u64, timeout: Duration) -> Result<Self, EvmError> {
        crate::provider::install_crypto_provider();
        let mut attempts_left = 3;
        loop {
            attempts_left -= 1;
            match Self::start_once(bin, chain_id, timeout).await {
                Err(EvmError::AnvilExited { .. }) if attempts_left > 0 => continue,
                other => return other,
            }
        }
    }

    async fn start_once(bin: &Path, chain_id: u64, timeout: Duration) -> Result<Self, EvmError> {
        if !bin.is_file() {
            return Err(EvmError::AnvilNotFound {
                path: bin.to_owned(),
            });
        }
        let port = free_port()?;
        let mut child = Command::new(bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--chain-id", &chain_id.to_string()])
            .args(["--mnemonic", TEST_MNEMONIC, "--accounts", "12", "--silent"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| EvmError::AnvilSpawn {
                path: bin.to_owned(),
                source,
            })?;
        let stderr = drain_stderr(&mut child);
        let mut node = Self {
            child,
            chain_id,
            rpc_url: format!("http://127.0.0.1:{port}"),
        };
        node.wait_ready(timeout, &stderr).await?;
        Ok(node)
    }

    async fn wait_ready(
        &mut self,
        timeout: Duration,
        stderr: &Arc<Mutex<String>>,
    ) -> Result<(), EvmError> {
        let provider = ProviderBuilder::new().connect(&self.rpc_url).await?;
        let started = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let stderr = stderr.lock().map(|s| s.clone()).unwrap_or_default();
                return Err(EvmError::AnvilExited {
                    chain_id: self.chain_id,
                    status: status.to_string(),
                    stderr,
                });
            }
            if let Ok(id) = provider.get_chain_id().await {
                if id != self.chain_id {
                    return Err(EvmError::Devnet {
                        chain: self.chain_id.to_string(),
                        reason: format!("anvil on {} answers chain id {id}", self.rpc_url),
                    });
                }
                return Ok(());
            }
            if started.elapsed() > timeout {
                return Err(EvmError::AnvilTimeout {
                    chain_id: self.chain_id,
                    rpc_url: self.rpc_url.clone(),
                    secs: timeout.as_secs(),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn rpc_url(&self) -> &str {
        &self.rpc_url
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills and reaps the process. SIGKILL rather than SIGTERM: anvil holds no state worth a
    /// clean shutdown here, and std can only send SIGKILL without unsafe code or another crate.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            if let Err(e) = self.child.kill() {
                tracing::warn!(pid = self.child.id(), error = %e, "could not kill anvil");
            }
        }
        // Reap it, so no zombie outlives us.
        let _ = self.child.wait();
    }
}

impl Drop for AnvilProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A free loopback port never handed out before in this process: two devnets of one test
/// binary starting at once cannot be given the same port (a node answering on it could be the
/// other devnet's, with the same chain id).
fn free_port() -> Result<u16, EvmError> {
    static GIVEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());
    let io_err = |source| EvmError::Io {
        path: PathBuf::from("127.0.0.1:0"),
        source,
    };
    loop {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(io_err)?;
        let port = listener.local_addr().map_err(io_err)?.port();
        let fresh = GIVEN
            .lock()
            .map(|mut given| given.insert(port))
            .unwrap_or(true);
        if fresh {
            return Ok(port);
        }
    }
}

/// Reads anvil's stderr on a thread, keeping the tail for error messages. Without a reader a
/// chatty anvil could fill the pipe and block.
fn drain_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let kept = Arc::new(Mutex::new(String::new()));
    if let Some(mut pipe) = child.stderr.take() {
        let sink = Arc::clone(&kept);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                if let Ok(mut text) = sink.lock() {
                    text.push_str(&String::from_utf8_lossy(&buf[..n]));
                    if text.len() > STDERR_KEEP {
                        let cut = text.len() - STDERR_KEEP;
                        let cut = (cut..text.len())
                            .find(|i| text.is_char_boundary(*i))
                            .unwrap_or(0);
                        text.drain(..cut);
                    }
                }
            }
        });
    }
    kept
}
