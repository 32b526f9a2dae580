//! A user session that refreshes itself: signs in, then keeps calling from
//! several tasks at once while the access token is refreshed (single-flight:
//! one Refresh for all of them) and persists every new token pair.
//!
//! ```sh
//! OCHRE_URL=http://127.0.0.1:50051 OCHRE_EMAIL=you@example.com OCHRE_PASSWORD=... \
//!   cargo run -p ochre-sdk --example session_refresh
//! ```
//!
//! Optional: `OCHRE_TOTP_CODE` (accounts with a second factor),
//! `OCHRE_TOKENS_FILE` (resume from / persist the tokens, protobuf-encoded),
//! `OCHRE_SECONDS` (how long to run, default 5), `OCHRE_TASKS` (default 8),
//! `OCHRE_REFRESH_MARGIN_SECS` (refresh this long before expiry, default
//! 60; an access token lives 15 minutes, so 897 refreshes after 3 s).
//!
//! Prints `calls: N` and `refreshes: N` at the end.

#![allow(clippy::print_stdout)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use ochre_sdk::{
    client::OchreClient,
    v1::{SessionTokens, WhoAmIRequest},
};
use prost::Message as _;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("set {name}"))
}

fn number(name: &str, default: u64) -> Result<u64, String> {
    std::env::var(name).ok().map_or(Ok(default), |v| {
        v.parse().map_err(|_| format!("{name}: a number"))
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let tokens_file = std::env::var("OCHRE_TOKENS_FILE").ok();
    let rotations = Arc::new(AtomicUsize::new(0));
    let mut builder = OchreClient::builder(var("OCHRE_URL")?).refresh_margin(Duration::from_secs(
        number("OCHRE_REFRESH_MARGIN_SECS", 60)?,
    ));
    {
        let (rotations, file) = (rotations.clone(), tokens_file.clone());
        builder = builder.on_tokens(move |tokens: &SessionTokens| {
            rotations.fetch_add(1, Ordering::SeqCst);
            // Persist the pair: the previous refresh token no longer works.
            if let Some(file) = &file
                && let Err(e) = std::fs::write(file, tokens.encode_to_vec())
            {
                eprintln!("could not save the tokens: {e}");
            }
        });
    }
    let saved = tokens_file
        .as_deref()
        .and_then(|f| std::fs::read(f).ok())
        .and_then(|b| SessionTokens::decode(b.as_slice()).ok())
        .filter(|t| !t.refresh_token.is_empty());
    builder = match saved {
        Some(tokens) => builder.session(tokens),
        None => {
            let builder = builder.sign_in(var("OCHRE_EMAIL")?, var("OCHRE_PASSWORD")?);
            match std::env::var("OCHRE_TOTP_CODE") {
                Ok(code) => builder.totp_code(code),
                Err(_) => builder,
            }
        }
    };
    let client = builder.build().await?;
    let signed_in = rotations.load(Ordering::SeqCst);

    let me = client.auth().who_am_i(WhoAmIRequest {}).await?;
    println!(
        "signed in as {}",
        me.user.map(|u| u.email).unwrap_or_default()
    );

    let until = Instant::now() + Duration::from_secs(number("OCHRE_SECONDS", 5)?);
    let calls = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..number("OCHRE_TASKS", 8)? {
        let (client, calls) = (client.clone(), calls.clone());
        tasks.push(tokio::spawn(async move {
            while Instant::now() < until {
                client.auth().who_am_i(WhoAmIRequest {}).await?;
                calls.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok::<_, ochre_sdk::client::OchreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    println!("calls: {}", calls.load(Ordering::SeqCst));
    println!(
        "refreshes: {}",
        rotations.load(Ordering::SeqCst) - signed_in
    );
    Ok(())
}
