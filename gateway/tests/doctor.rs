//! `rialto doctor` as an operator runs it: a configuration broken in several places gets one
//! FAIL line naming each broken setting and a non-zero exit; a sound one passes.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

fn rialto(config: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rialto"));
    // Keep the developer's own RIALTO__ variables out of the test.
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg(config);
    cmd
}

fn doctor(config: &Path) -> (Output, String) {
    let out = rialto(config).arg("doctor").output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// A bare anvil (chain 31337) on a free port, ready once it answers as that chain (the devnet's
/// own start, which tries another port if one was taken meanwhile); killed on drop.
async fn anvil() -> rialto_evm::AnvilProcess {
    let root = rialto_evm::DevnetConfig::default_repo_root();
    let explicit = std::env::var_os("ANVIL_BIN").map(PathBuf::from);
    let bin =
        rialto_evm::locate_anvil(&root, explicit).expect("anvil: run tools/devnet/install.sh");
    rialto_evm::AnvilProcess::start(&bin, 31337, Duration::from_secs(30))
        .await
        .expect("anvil starts")
}

fn key_file(dir: &Path, mode: u32) -> PathBuf {
    let path = dir.join("rialto.key");
    // 32 bytes, base64: a valid master key.
    std::fs::write(&path, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[tokio::test]
async fn doctor_names_each_broken_setting_and_exits_non_zero() {
    let anvil = anvil().await;
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 0o644);
    let lists = stale_lists(dir.path());
    let config = dir.path().join("rialto.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"sqlite://{db}\"\n\
             [secrets]\nmaster_key_file = \"{key}\"\n\
             [tls]\nextra_ca_file = \"{dir}/no-such-ca.pem\"\n\
             [compliance]\nofac_dir = \"{lists}\"\nwarn_after_secs = 3600\n\
             refuse_after_secs = 86400\n\
             [[live.chains]]\nchain = \"base\"\nrpc_urls = [\"{rpc}\"]\n\
             confirmations = 1\n",
            db = dir.path().join("never-migrated.db").display(),
            key = key.display(),
            dir = dir.path().display(),
            lists = lists.display(),
            rpc = anvil.rpc_url(),
        ),
    )
    .unwrap();
    let (out, stdout) = doctor(&config);
    assert!(!out.status.success(), "{stdout}");
    for (setting, says) in [
        ("database.url", "does not exist; run `rialto migrate`"),
        ("secrets.master_key_file", "open to group or others"),
        ("tls.extra_ca_file", "cannot be read"),
        (
            "live.chains[0].rpc_urls[0]",
            "is chain 31337, but base is chain 8453",
        ),
        (
            "compliance.ofac_dir",
            "72 hours old, older than compliance.refuse_after_secs allows",
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("FAIL") && l.contains(setting))
            .unwrap_or_else(|| panic!("no FAIL line for {setting}:\n{stdout}"));
        assert!(line.contains(says), "{line}");
    }
}

/// A copy of the shipped lists as `rialto compliance refresh` would have written it three
/// days ago.
fn stale_lists(dir: &Path) -> PathBuf {
    let lists = dir.join("ofac");
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/ofac");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(&shipped)
        .arg(&lists)
        .status()
        .unwrap();
    assert!(copied.success());
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let source = std::fs::read_to_string(lists.join("SOURCE")).unwrap();
    let fetched = now_ms - 72 * 3_600_000 - 60_000;
    std::fs::write(
        lists.join("SOURCE"),
        format!("{source}fetched_at_ms={fetched}\n"),
    )
    .unwrap();
    lists
}

#[test]
fn doctor_wants_a_list_age_limit_when_live_money_is_configured() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rialto.toml");
    std::fs::write(
        &config,
        "[[live.chains]]\nchain = \"base\"\nrpc_urls = [\"http://127.0.0.1:9\"]\nconfirmations = 1\n",
    )
    .unwrap();
    let (out, stdout) = doctor(&config);
    assert!(!out.status.success(), "{stdout}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("FAIL") && l.contains("compliance.refuse_after_secs"))
        .unwrap_or_else(|| panic!("no FAIL line for the list age limit:\n{stdout}"));
    assert!(line.contains("set a maximum age"), "{line}");
}

#[test]
fn doctor_passes_a_sound_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let key = key_file(dir.path(), 0o600);
    let db = format!("sqlite://{}", dir.path().join("r.db").display());
    let config = dir.path().join("rialto.toml");
    std::fs::write(
        &config,
        format!(
            "[database]\nurl = \"{db}\"\n[secrets]\nmaster_key_file = \"{}\"\n",
            key.display()
        ),
    )
    .unwrap();
    let migrate = rialto(&config).arg("migrate").output().unwrap();
    assert!(migrate.status.success());
    let (out, stdout) = doctor(&config);
    assert!(out.status.success(), "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
    assert!(
        stdout.contains("ok   database.url: reachable, migrations applied"),
        "{stdout}"
    );
}

#[test]
fn doctor_names_a_venue_whose_secret_is_missing_and_one_it_cannot_reach() {
    let dir = tempfile::tempdir().unwrap();
    let secret = dir.path().join("binance.secret");
    std::fs::write(&secret, "s").unwrap();
    std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
    let config = dir.path().join("rialto.toml");
    // Kraken's secret names a variable the environment lacks (the doctor runs with a cleared
    // environment); Binance's credentials are there but nothing listens at its URL.
    std::fs::write(
        &config,
        format!(
            "[[live.venues]]\nkind = \"kraken\"\nbase_url = \"https://127.0.0.1:1\"\n\
             networks = {{ base = \"USDC - Base\" }}\n\
             market_api_key = {{ env = \"RIALTO_DOCTOR_TEST_KRAKEN_KEY\" }}\n\
             market_api_secret = {{ env = \"RIALTO_DOCTOR_TEST_KRAKEN_SECRET\" }}\n\
             [[live.venues]]\nkind = \"binance\"\nbase_url = \"https://127.0.0.1:1\"\n\
             networks = {{ base = \"BASE\" }}\n\
             market_api_key = {{ file = \"{secret}\" }}\n\
             market_api_secret = {{ file = \"{secret}\" }}\n",
            secret = secret.display()
        ),
    )
    .unwrap();
    let (out, stdout) = doctor(&config);
    assert!(!out.status.success(), "{stdout}");
    for (setting, says) in [
        (
            "live.venues[0].market_api_key",
            "the environment variable RIALTO_DOCTOR_TEST_KRAKEN_KEY is not set",
        ),
        (
            "live.venues[1] (binance)",
            "cannot reach https://127.0.0.1:1",
        ),
    ] {
        let line = stdout
            .lines()
            .find(|l| l.starts_with("FAIL") && l.contains(setting))
            .unwrap_or_else(|| panic!("no FAIL line for {setting}:\n{stdout}"));
        assert!(line.contains(says), "{line}");
    }
}
