//! The `rialto` binary as operators use it: migrate, merchants create, serve, a graceful
//! stop on SIGTERM, and `uri parse` / `uri build` for payment links.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn rialto() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_rialto"));
    // Keep the developer's own rialto.toml and RIALTO__ variables out of the test.
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .arg("--config")
        .arg("/nonexistent/rialto.toml");
    cmd
}

#[test]
fn merchants_create_prints_keys_once_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let migrate = rialto()
        .args(["migrate", "--database-url", &url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let out = rialto()
        .args([
            "merchants",
            "create",
            "--name",
            "Coffee Shop",
            "--settlement-asset",
            "usdc",
            "--settlement-chain",
            "base",
            "--settlement-address",
            "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "--database-url",
            &url,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let created: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(created["id"].as_str().unwrap().starts_with("mer_"));
    assert!(created["secret_key"]
        .as_str()
        .unwrap()
        .starts_with("sk_test_"));
    assert!(created["publishable_key"]
        .as_str()
        .unwrap()
        .starts_with("pk_test_"));
    // The database holds only hashes.
    let db = std::fs::read(dir.path().join("r.db")).unwrap_or_default();
    let wal = std::fs::read(dir.path().join("r.db-wal")).unwrap_or_default();
    let sk = created["secret_key"].as_str().unwrap().as_bytes();
    for bytes in [&db, &wal] {
        assert!(
            !bytes.windows(sk.len()).any(|w| w == sk),
            "secret key stored in clear"
        );
    }
}

#[test]
fn bad_settlement_or_config_fails_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let out = rialto()
        .args([
            "merchants",
            "create",
            "--name",
            "X",
            "--settlement-asset",
            "usdc",
            "--settlement-chain",
            "base",
            "--settlement-address",
            "0x5AAeb6053F3E94C9b9A09f33669435E7Ef1BeAed",
            "--database-url",
            &url,
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("checksum"));
    let out = rialto()
        .args(["serve", "--database-url", "mysql://nope"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("database.url"));
    let out = rialto()
        .env("RIALTO__SERVER__LISTEN", "not-an-address")
        .args(["serve", "--database-url", &url])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.listen"));
}

#[test]
fn serve_answers_and_stops_gracefully_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut child = rialto()
        .env("RIALTO__LOG__FORMAT", "json")
        .args(["serve", "--listen", &listen, "--database-url", &url])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let health = loop {
        if let Ok(mut stream) = std::net::TcpStream::connect(&listen) {
            use std::io::{Read, Write};
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
                .unwrap();
            let mut answer = String::new();
            stream.read_to_string(&mut answer).unwrap();
            break answer;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status}");
    let logs: Vec<Value> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| serde_json::from_str(&l).ok())
        .collect();
    let messages: Vec<&str> = logs
        .iter()
        .filter_map(|l| l["fields"]["message"].as_str())
        .collect();
    assert!(messages.iter().any(|m| m.contains("ready")), "{messages:?}");
    assert!(messages.contains(&"stopped"), "{messages:?}");
}

#[test]
fn compliance_screen_prints_the_decision_as_json() {
    let run = |args: &[&str]| {
        let out = rialto()
            .args(["compliance", "screen"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let blocked = run(&[
        "--address",
        "0xD90E2F925DA726B50C4ED8D0FB90AD053324F31B",
        "--chain",
        "ethereum",
    ]);
    assert_eq!(blocked["decision"], "block");
    assert_eq!(
        blocked["reasons"][0]["reason"]["kind"],
        "sanctioned_address"
    );
    assert!(blocked["list_version"]
        .as_str()
        .unwrap()
        .starts_with("ofac-addr:"));
    let clear = run(&["--address", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"]);
    assert_eq!(
        (
            clear["decision"].as_str(),
            clear["reasons"].as_array().map(Vec::len)
        ),
        (Some("clear"), Some(0))
    );
    let name = run(&["--name", "Natinal Bank of Cuba"]);
    assert_ne!(name["decision"], "clear", "a typo still matches: {name}");
    assert!(name["list_version"]
        .as_str()
        .unwrap()
        .starts_with("ofac-sdn:"));
    let bad = rialto()
        .args([
            "compliance",
            "screen",
            "--address",
            "0x12",
            "--chain",
            "base",
        ])
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("Invalid address"));
}

#[test]
fn verify_log_names_the_first_tampered_record_and_exits_non_zero() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let op = rialto()
        .args([
            "operators",
            "create",
            "--name",
            "alice",
            "--database-url",
            &url,
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        op.status.success(),
        "{}",
        String::from_utf8_lossy(&op.stderr)
    );
    let op: Value = serde_json::from_slice(&op.stdout).unwrap();
    assert!(op["operator_key"].as_str().unwrap().starts_with("op_"));
    let verify = || {
        rialto()
            .args(["compliance", "verify-log", "--database-url", &url])
            .output()
            .unwrap()
    };
    let empty = verify();
    assert!(empty.status.success());
    assert_eq!(
        serde_json::from_slice::<Value>(&empty.stdout).unwrap()["records"],
        0
    );
    // Three chained records written through the store, then one edited behind its back.
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use rialto_gateway::store::ComplianceStore;
        let mut config = rialto_gateway::config::Config::default();
        config.database.url = url.clone();
        let registry = std::sync::Arc::new(rialto_gateway::registry::builtin().unwrap());
        let store = rialto_gateway::server::open_store(&config, registry)
            .await
            .unwrap();
        for i in 0..3 {
            let entry = rialto_compliance::AuditEntry {
                id: format!("cc_{i}"),
                at_ms: i,
                kind: "screening:test".into(),
                subject: "pi".into(),
                outcome: "clear".into(),
                detail: "{}".into(),
            };
            store.append_audit(&entry).await.unwrap();
        }
        let ok = verify();
        assert!(
            ok.status.success(),
            "{}",
            String::from_utf8_lossy(&ok.stdout)
        );
        sqlx::query("UPDATE compliance_audit_log SET outcome = 'block' WHERE seq = 1")
            .execute(store.pool())
            .await
            .unwrap();
    });
    let broken = verify();
    assert_eq!(broken.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&broken.stdout).unwrap();
    assert_eq!(
        (
            report["first_broken"]["seq"].as_u64(),
            report["first_broken"]["id"].as_str()
        ),
        (Some(1), Some("cc_1"))
    );
}

fn run_json(args: &[&str]) -> Value {
    let out = rialto().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn keys_and_operator_keys_are_created_listed_rolled_and_revoked_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("r.db").display());
    let db = ["--database-url", url.as_str()];
    let merchant = run_json(
        &[
            &["merchants", "create", "--name", "Shop", "--json"][..],
            &db,
        ]
        .concat(),
    );
    let merchant = merchant["id"].as_str().unwrap();
    let made = run_json(
        &[
            &[
                "keys",
                "create",
                "--merchant",
                merchant,
                "--name",
                "checker",
            ][..],
            &db,
        ]
        .concat(),
    );
    let secret = made["secret"].as_str().unwrap();
    assert!(secret.starts_with("sk_test_"), "{made}");
    assert_eq!(
        made["custody"], made["id"],
        "a CLI key is a custody of its own"
    );
    let listed = run_json(&[&["keys", "list", "--merchant", merchant][..], &db].concat());
    assert_eq!(listed.as_array().unwrap().len(), 3, "{listed}");
    assert!(!listed.to_string().contains(secret), "{listed}");
    let id = made["id"].as_str().unwrap();
    let rolled = run_json(&[&["keys", "roll", id, "--expires-in-seconds", "60"][..], &db].concat());
    assert_ne!(rolled["secret"], made["secret"]);
    assert_eq!(rolled["custody"], made["custody"]);
    let new_id = rolled["id"].as_str().unwrap();
    let revoked = run_json(&[&["keys", "revoke", new_id][..], &db].concat());
    assert!(revoked["revoked_at"].is_i64(), "{revoked}");
    let twice = rialto()
        .args([&["keys", "revoke", new_id][..], &db].concat())
        .output()
        .unwrap();
    assert!(!twice.status.success());

    let op = run_json(
        &[
            &["operators", "create", "--name", "olga", "--json"][..],
            &db,
        ]
        .concat(),
    );
    let op_id = op["id"].as_str().unwrap();
    let rolled = run_json(&[&["operators", "roll", op_id][..], &db].concat());
    assert!(rolled["operator_key"].as_str().unwrap().starts_with("op_"));
    let new_op = rolled["id"].as_str().unwrap();
    run_json(&[&["operators", "revoke", new_op][..], &db].concat());
    let ops = run_json(&[&["operators", "list"][..], &db].concat());
    assert_eq!(ops.as_array().unwrap().len(), 2, "{ops}");
    assert!(
        ops.as_array()
            .unwrap()
            .iter()
            .all(|o| o["revoked_at"].is_i64()),
        "{ops}"
    );
}

/// `rialto uri …` with its arguments: (exit success, stdout, stderr).
fn uri(args: &[&str]) -> (bool, String, String) {
    let out = rialto().arg("uri").args(args).output().unwrap();
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn uri_parse_prints_the_fields_of_a_solana_pay_url_as_json_with_amounts_as_strings() {
    let (ok, stdout, stderr) = uri(&[
        "parse",
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.01&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&message=Thanks%20for%20all%20the%20fish",
    ]);
    assert!(ok, "{stderr}");
    let parsed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(parsed["standard"], "solana_pay");
    assert_eq!(parsed["kind"], "transfer_request");
    assert_eq!(
        parsed["recipient"],
        "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN"
    );
    assert_eq!(parsed["amount"], "0.01");
    assert_eq!(
        parsed["spl_token"],
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v"
    );
    assert_eq!(
        parsed["references"],
        serde_json::json!(["82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny"])
    );
    assert_eq!(parsed["message"], "Thanks for all the fish");
    assert_eq!(parsed["memo"], Value::Null);
}

#[test]
fn uri_parse_names_the_rule_a_malformed_uri_breaks_and_exits_non_zero() {
    for (text, code) in [
        (
            "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1e3",
            "amount_scientific_notation",
        ),
        (
            "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=1&amount=1000",
            "duplicate_field",
        ),
        (
            "ethereum:0xfb6916095ca1df60bb79Ce92ce3ea74c37c5d359?value=2.014e18",
            "address_checksum_invalid",
        ),
        ("bitcoin:1abc", "scheme_unknown"),
    ] {
        let (ok, stdout, stderr) = uri(&["parse", text]);
        assert!(!ok, "{text} was accepted: {stdout}");
        let err: Value = serde_json::from_str(&stdout).unwrap();
        assert_eq!(err["error"]["code"], code, "{text}");
        assert!(stderr.contains(code), "{stderr}");
    }
    // A token amount with more decimals than the mint, once the mint's decimals are given.
    let (ok, stdout, _) = uri(&[
        "parse",
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=0.0000001&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "--decimals",
        "6",
    ]);
    assert!(!ok);
    assert!(stdout.contains("amount_too_many_decimals"), "{stdout}");
}

#[test]
fn uri_build_writes_links_that_uri_parse_reads_back() {
    let (ok, built, stderr) = uri(&[
        "build",
        "solana-pay",
        "--recipient",
        "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN",
        "--amount",
        "25.50",
        "--spl-token",
        "EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v",
        "--decimals",
        "6",
        "--reference",
        "82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny",
        "--label",
        "Coffee & Co",
        "--memo",
        "pi_123",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        built.trim(),
        "solana:mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN?amount=25.5&spl-token=EPjFWdd5AufqSSqeM2qN1xzybapC8G4wEGGkZwyTDt1v&reference=82ZJ7nbGpixjeDCmEhUcmwXYfvurzAgGdtSMuHnUgyny&label=Coffee%20%26%20Co&memo=pi_123"
    );
    let (ok, parsed, _) = uri(&["parse", built.trim()]);
    assert!(ok);
    let parsed: Value = serde_json::from_str(&parsed).unwrap();
    assert_eq!(parsed["label"], "Coffee & Co");

    let (ok, built, stderr) = uri(&[
        "build",
        "eip681",
        "--chain-id",
        "8453",
        "--token",
        "0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
        "--to",
        "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        "--amount-units",
        "25500000",
    ]);
    assert!(ok, "{stderr}");
    assert_eq!(
        built.trim(),
        "ethereum:0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913@8453/transfer?address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8&uint256=25500000"
    );
    let (ok, parsed, _) = uri(&["parse", built.trim()]);
    assert!(ok);
    let parsed: Value = serde_json::from_str(&parsed).unwrap();
    assert_eq!(parsed["kind"], "erc20_transfer");
    assert_eq!(parsed["amount_units"], "25500000");

    // The builder refuses what the parser would: 10 decimals of SOL.
    let (ok, stdout, _) = uri(&[
        "build",
        "solana-pay",
        "--recipient",
        "mvines9iiHiQTysrwkJjGf2gb9Ex9jXJX8ns3qwf2kN",
        "--amount",
        "0.0000000001",
    ]);
    assert!(!ok);
    assert!(stdout.contains("amount_too_many_decimals"), "{stdout}");
}
