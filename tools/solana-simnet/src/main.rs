//! `rialto-solana-simnet`: a local Solana JSON-RPC endpoint for the devnet and the Solana rail
//! tests, and nothing else. It runs surfpool's LiteSVM simnet **offline** (no datasource: it never
//! reaches mainnet), on 127.0.0.1 only, with the SPL Token, Token-2022, associated token account
//! and memo programs it bundles, producing a slot every `--slot-ms` milliseconds.
//!
//! It prints one line, `SOLANA_RPC_URL=http://127.0.0.1:<port>`, once the RPC server answers,
//! then runs until it is killed. A dev/test-only binary: the gateway never links it.
//!
//! Usage: `rialto-solana-simnet [--port N] [--ws-port N] [--slot-ms N]` (port 0: a free one).

use std::net::TcpListener;
use std::time::Duration;

use crossbeam_channel::{unbounded, RecvTimeoutError};
use surfpool_core::surfnet::svm::{SurfnetSvm, SurfnetSvmConfig};
use surfpool_types::{BlockProductionMode, RpcConfig, SimnetConfig, SimnetEvent, SurfpoolConfig};

/// How long the simnet may take to say it started.
const READY_DEADLINE: Duration = Duration::from_secs(60);

struct Args {
    port: u16,
    ws_port: u16,
    slot_ms: u64,
}

fn free_port() -> Result<u16, String> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        port: 0,
        ws_port: 0,
        slot_ms: 400,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |v: &str| {
            v.parse::<u64>()
                .map_err(|_| format!("{flag}: not a number: {v}"))
        };
        match flag.as_str() {
            "--port" => args.port = u16::try_from(number(&value)?).map_err(|e| e.to_string())?,
            "--ws-port" => {
                args.ws_port = u16::try_from(number(&value)?).map_err(|e| e.to_string())?
            }
            "--slot-ms" => args.slot_ms = number(&value)?.max(10),
            other => return Err(format!("unknown flag {other}")),
        }
    }
    if args.port == 0 {
        args.port = free_port()?;
    }
    if args.ws_port == 0 {
        args.ws_port = free_port()?;
    }
    Ok(args)
}

fn run(args: Args) -> Result<(), String> {
    let config = SurfpoolConfig {
        simnets: vec![SimnetConfig {
            // Offline: no remote datasource, every account is local.
            offline_mode: true,
            remote_rpc_url: None,
            slot_time: args.slot_ms,
            block_production_mode: BlockProductionMode::Clock,
            ..SimnetConfig::default()
        }],
        rpc: RpcConfig {
            bind_host: "127.0.0.1".into(),
            bind_port: args.port,
            ws_port: args.ws_port,
            ..RpcConfig::default()
        },
        ..SurfpoolConfig::default()
    };
    let (svm, events_rx, geyser_rx) = SurfnetSvm::new(SurfnetSvmConfig {
        slot_time: args.slot_ms,
        ..SurfnetSvmConfig::default()
    })
    .map_err(|e| format!("starting the SVM: {e}"))?;
    let (commands_tx, commands_rx) = unbounded();
    let runloop = std::thread::Builder::new()
        .name("surfnet".into())
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(surfpool_core::start_local_surfnet(
                    svm,
                    config,
                    commands_tx,
                    commands_rx,
                    geyser_rx,
                ))
                .map_err(|e| e.to_string())
        })
        .map_err(|e| e.to_string())?;
    wait_ready(&events_rx)?;
    println!("SOLANA_RPC_URL=http://127.0.0.1:{}", args.port);
    // Drain the simnet's events (an unread channel would grow without bound) until it stops.
    loop {
        match events_rx.recv_timeout(Duration::from_secs(1)) {
            Ok(SimnetEvent::Aborted(reason)) => return Err(format!("simnet aborted: {reason}")),
            Ok(_) | Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => break,
        }
        if runloop.is_finished() {
            break;
        }
    }
    match runloop.join() {
        Ok(result) => result,
        Err(_) => Err("the simnet's runloop panicked".into()),
    }
}

fn wait_ready(events_rx: &crossbeam_channel::Receiver<SimnetEvent>) -> Result<(), String> {
    let deadline = std::time::Instant::now() + READY_DEADLINE;
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match events_rx.recv_timeout(left) {
            Ok(SimnetEvent::CoreStarted(_)) => return Ok(()),
            Ok(SimnetEvent::Aborted(reason)) => return Err(format!("simnet aborted: {reason}")),
            Ok(_) => {}
            Err(_) => return Err("the simnet did not start".into()),
        }
    }
}

fn main() {
    let outcome = parse_args().and_then(run);
    if let Err(message) = outcome {
        eprintln!("rialto-solana-simnet: {message}");
        std::process::exit(1);
    }
}
