//! Lockout is not a weapon. Failures count per (account, client address)
//! first: five lock that pair, not the account. Failures from many addresses
//! back the account off exponentially (1 s, 2 s, 4 s, ...) instead of
//! locking it for 15 minutes. The argon2 pool is shared fairly: while 48
//! addresses flood Login, a user from a fresh address signs in, following
//! the RetryInfo the server sends at most twice. Every refusal carries
//! `google.rpc.RetryInfo` and `retry-after`. Re-authentication (a
//! password or a code asked again by a signed-in user) locks too.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use ochre_sdk::v1::{DeleteAccountRequest, DisableTotpRequest, LoginRequest};
use ochre_tests::{
    identity::{enable_totp, totp_code},
    prelude::*,
};
use tonic::Status;
use tonic_types::StatusExt as _;

fn loopback(c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, c, d))
}

async fn login_from(
    app: &TestApp,
    from: IpAddr,
    email: &str,
    password: &str,
) -> Result<(), Status> {
    let request = LoginRequest {
        email: email.to_owned(),
        password: password.to_owned(),
    };
    let mut client = app.client_from::<AuthClient>(from).await;
    client.login(request).await.map(|_| ())
}

/// The retry delay a RESOURCE_EXHAUSTED answer carries, checked to be the
/// same in the `RetryInfo` detail and in `retry-after` (whole seconds).
fn retry_delay(status: &Status) -> Duration {
    assert_eq!(status.code(), Code::ResourceExhausted, "{status:?}");
    let delay = status
        .get_details_retry_info()
        .and_then(|r| r.retry_delay)
        .expect("a RetryInfo detail");
    let header: u64 = status
        .metadata()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("retry-after metadata");
    assert_eq!(header, delay.as_secs_f64().ceil().max(1.0) as u64);
    delay
}

#[tokio::test]
async fn five_failures_from_one_address_lock_that_address_out_of_the_account_only() {
    let app = spawn_app().await;
    let victim = signup_and_login(&app, &unique_email()).await;
    let (attacker, elsewhere) = (loopback(1, 1), loopback(1, 2));
    for attempt in 1..=5 {
        let wrong = login_from(&app, attacker, &victim.email, "Not-the-password-42").await;
        assert_eq!(code_of(&wrong), Code::Unauthenticated, "attempt {attempt}");
    }
    // From that address even the right password is refused, for 15 minutes.
    let locked = login_from(&app, attacker, &victim.email, &victim.password)
        .await
        .unwrap_err();
    let delay = retry_delay(&locked);
    assert!(delay > Duration::from_secs(14 * 60), "{delay:?}");
    assert!(!locked.message().contains(&victim.email));
    // The owner, from their own address, signs in.
    login_from(&app, elsewhere, &victim.email, &victim.password)
        .await
        .expect("the account itself is not locked");
}

/// One more failure of `email` from a fresh address, waiting out any
/// account-wide backoff first (what a patient attacker does).
async fn fail_once(app: &TestApp, from: IpAddr, email: &str) {
    for _ in 0..10 {
        match login_from(app, from, email, "Not-the-password-42").await {
            Err(s) if s.code() == Code::Unauthenticated => return,
            Err(s) if s.code() == Code::ResourceExhausted => {
                tokio::time::sleep(retry_delay(&s)).await;
            }
            other => panic!("a wrong password answered {other:?}"),
        }
    }
    panic!("the backoff never ended");
}

#[tokio::test]
async fn failures_from_many_addresses_back_the_account_off_exponentially_not_for_fifteen_minutes() {
    let app = spawn_app().await;
    let victim = signup_and_login(&app, &unique_email()).await;
    let owner_address = loopback(2, 200);
    // 20 failures from 10 addresses (2 each: no pair lock) start the backoff.
    for n in 0..20u8 {
        fail_once(&app, loopback(2, n / 2 + 1), &victim.email).await;
    }
    // The 21st and 22nd failures lock the account for 2 s, then 4 s.
    for (n, longest) in [(21u8, 2u64), (22, 4)] {
        fail_once(&app, loopback(2, n), &victim.email).await;
        let refused = login_from(&app, owner_address, &victim.email, &victim.password)
            .await
            .unwrap_err();
        let delay = retry_delay(&refused);
        assert!(
            delay <= Duration::from_secs(longest) && delay > Duration::from_secs(longest / 2 - 1),
            "failure {n}: {delay:?}"
        );
        if n == 22 {
            // The owner waits as told and signs in.
            tokio::time::sleep(delay).await;
            login_from(&app, owner_address, &victim.email, &victim.password)
                .await
                .expect("the backoff ended");
        }
    }
}

#[tokio::test]
async fn a_user_from_a_fresh_address_signs_in_while_48_addresses_flood_login() {
    let app = Arc::new(spawn_app().await);
    let user = signup_and_login(&app, &unique_email()).await;
    let stop = Arc::new(AtomicBool::new(false));
    let (answered, busy) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let mut flood = Vec::new();
    for a in 1..=48u8 {
        // Two loops per address: the second finds the address's place taken.
        for _ in 0..2 {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            let (answered, busy) = (Arc::clone(&answered), Arc::clone(&busy));
            flood.push(tokio::spawn(async move {
                let mut client = app.client_from::<AuthClient>(loopback(3, a)).await;
                while !stop.load(Ordering::Relaxed) {
                    let request = LoginRequest {
                        email: unique_email(),
                        password: "Not-the-password-42".into(),
                    };
                    match client.login(request).await {
                        Err(s) if s.code() == Code::ResourceExhausted => {
                            busy.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                        _ => {
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = answered.load(Ordering::Relaxed);
    let mut tries = Vec::new();
    let mut signed_in = false;
    for _ in 0..3 {
        match login_from(&app, loopback(4, 1), &user.email, &user.password).await {
            Ok(()) => {
                signed_in = true;
                break;
            }
            Err(s) => {
                let delay = retry_delay(&s);
                tries.push(delay);
                tokio::time::sleep(delay).await;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in flood {
        task.await.unwrap();
    }
    let (answered, busy) = (
        answered.load(Ordering::Relaxed),
        busy.load(Ordering::Relaxed),
    );
    assert!(
        before > 0 && answered >= 48,
        "the flood was real: {answered} answered"
    );
    assert!(busy > 0, "a second request per address was turned away");
    assert!(
        signed_in,
        "the user did not sign in (refusals with delays {tries:?}; flood {answered} answered, {busy} busy)"
    );
}

#[tokio::test]
async fn guessing_totp_codes_or_the_password_locks_re_authentication() {
    let app = spawn_app().await;
    let user = signup_and_login(&app, &unique_email()).await;
    let totp = enable_totp(&app, &user).await;
    let mut auth = app.client::<AuthClient>();
    let wrong_password = DeleteAccountRequest {
        password: "not the password at all".into(),
        totp_code: String::new(),
    };
    let a = auth
        .delete_account(with_auth(wrong_password, &user.access_token, None))
        .await
        .unwrap_err();
    let no_code = DeleteAccountRequest {
        password: user.password.clone(),
        totp_code: "000000".into(),
    };
    let b = auth
        .delete_account(with_auth(no_code, &user.access_token, None))
        .await
        .unwrap_err();
    assert_eq!(
        (a.code(), a.message()),
        (b.code(), b.message()),
        "one answer: no password oracle"
    );
    for guess in ["111111", "222222", "333333"] {
        let r = auth
            .disable_totp(with_auth(
                DisableTotpRequest {
                    code: guess.into(),
                    password: user.password.clone(),
                },
                &user.access_token,
                None,
            ))
            .await;
        assert_eq!(code_of(&r), Code::Unauthenticated);
    }
    // Five failures: even the right code is refused for a while.
    let right = totp_code(&totp.secret_base32, unix_now());
    let r = auth
        .disable_totp(with_auth(
            DisableTotpRequest {
                code: right,
                password: user.password.clone(),
            },
            &user.access_token,
            None,
        ))
        .await;
    assert_eq!(code_of(&r), Code::ResourceExhausted);
}
