#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::{Arc, Mutex};

use super::*;

fn gone(input: &str, secret: &str) {
    let out = redact(input);
    assert!(
        !out.contains(secret),
        "`{secret}` survived in `{out}` (from `{input}`)"
    );
}

fn kept(input: &str) {
    assert_eq!(redact(input), input, "ordinary text was changed");
}

#[test]
fn bearer_and_basic_credentials_are_replaced() {
    gone("authorization: Bearer abc.DEF-123_x~y+z/=", "abc.DEF-123");
    gone(
        "Authorization: basic dXNlcjpwYXNzd29yZA==",
        "dXNlcjpwYXNzd29yZA",
    );
    assert_eq!(redact("Bearer abcdefgh1234"), "Bearer [redacted]");
}

#[test]
fn provider_keys_are_replaced() {
    for (text, secret) in [
        ("key sk_live_FAKEfakeFAKE0000", "FAKEfakeFAKE0000"),
        ("key sk_test_FAKEnotArealKEY0000", "FAKEnotArealKEY0000"),
        ("key rk_live_FAKErestricted00", "FAKErestricted00"),
        (
            "secret whsec_FAKEsigningSECRETforTESTS000",
            "FAKEsigningSECRETforTESTS000",
        ),
        ("slack xoxb-0000000000-FAKE-notAtoken", "xoxb-0000000000"),
        ("slack xoxp-0000-FAKE-notAtoken", "xoxp-0000-FAKE"),
        (
            "gh ghp_FAKEgithubTOKENforTESTSonly000000",
            "FAKEgithubTOKENforTESTS",
        ),
        (
            "gh github_pat_FAKE0000000000000000_notArealTOKENatAll",
            "FAKE0000000000000000",
        ),
        (
            "hs pat-na1-00000000-fa4e-0000-0000-000000000000",
            "00000000-fa4e",
        ),
        (
            "linear lin_api_FAKElinearKEYforTESTS0000",
            "FAKElinearKEYforTESTS",
        ),
        (
            "resend re_FAKE0000_notArealRESENDkeyFAKE",
            "notArealRESENDkeyFAKE",
        ),
        (
            "openai sk-proj-FAKEopenaiKEYforTESTSonly00",
            "FAKEopenaiKEYforTESTS",
        ),
        (
            "openai sk-FAKEplainOPENAIkeyFORtests0000",
            "FAKEplainOPENAIkeyFOR",
        ),
    ] {
        gone(text, secret);
    }
}

#[test]
fn jwts_and_pem_blocks_are_replaced() {
    let jwt = "eyJGQUtFIjoxfQ.eyJGQUtFIjoiZmFrZSJ9.FAKEsignatureNOTreal000";
    gone(&format!("token {jwt} end"), "FAKEsignatureNOTreal000");
    gone(&format!("token {jwt} end"), "eyJGQUtFIjoiZmFrZSJ9");
    let pem = "-----BEGIN PRIVATE KEY-----\nFAKEpemBODYnotAkey0000\n-----END PRIVATE KEY-----";
    assert_eq!(redact(&format!("k={pem} after")), "k=[redacted:pem] after");
    // In a JSON line the newlines are escaped; a cut-off block still goes.
    gone(
        r#"{"key":"-----BEGIN RSA PRIVATE KEY-----\nFAKEpemLINEoneNOTAkey\nFAKEpemLINEtwo"}"#,
        "FAKEpemLINEoneNOTAkey",
    );
}

#[test]
fn url_userinfo_and_secret_query_values_are_replaced() {
    assert_eq!(
        redact("connect postgres://ochre_app:s3cr3t-pw@127.0.0.1:5432/db failed"),
        "connect postgres://[redacted]@127.0.0.1:5432/db failed"
    );
    for (text, secret) in [
        ("GET /cb?code=abc123xyz&state=qwerty42", "abc123xyz"),
        ("GET /cb?code=abc123xyz&state=qwerty42", "qwerty42"),
        ("https://x.test/hook?token=t0k3nValue&x=1", "t0k3nValue"),
        ("https://x.test/a?key=AIzaSyD-abcdef", "AIzaSyD-abcdef"),
        (
            "https://x.test/a?x=1&signature=deadbeefcafe",
            "deadbeefcafe",
        ),
        ("https://x.test/a?access_token=ya29.a0AfH6", "ya29.a0AfH6"),
    ] {
        gone(text, secret);
    }
    assert!(redact("GET /cb?x=1&page=2").contains("page=2"));
}

#[test]
fn secret_named_fields_are_replaced_in_both_formats() {
    gone("login password=hunter2hunter2 ok", "hunter2hunter2");
    gone(r#"{"client_secret":"cs-123456","ok":true}"#, "cs-123456");
    gone(
        "Credentials { api_key: \"plainvalue123\" }",
        "plainvalue123",
    );
    gone("refresh_token=opaque-value-9", "opaque-value-9");
    gone(
        "x-hub-signature-256: sha256=0f3c2b1a9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b",
        "0f3c2b1a9d8e7f6a5b4c",
    );
}

#[test]
fn ochre_tokens_are_replaced() {
    for (text, secret) in [
        (
            "at ochre_at_v1.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXRhZw",
            "c2lnbmF0dXJlLXRhZw",
        ),
        (
            "rt ochre_rt_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
            "Zm9vYmFyYmF6cXV4",
        ),
        (
            "key ochre_sk_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
            "Zm9vYmFyYmF6cXV4",
        ),
        (
            "inv ochre_inv_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
            "Zm9vYmFyYmF6cXV4",
        ),
        (
            "tk ochre_tk_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg",
            "Zm9vYmFyYmF6cXV4",
        ),
        (
            "survey v1.k3Y1d.AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwd.dGFnLXRhZy10YWctdGFnLXRhZw",
            "AAECAwQFBgcICQoLDA0ODxAR",
        ),
        (
            "state v1.eyJvcmciOiJ4In0xMjM0NTY3.c2lnbmF0dXJlLXRhZy10YWc",
            "c2lnbmF0dXJlLXRhZy10YWc",
        ),
    ] {
        gone(text, secret);
    }
}

#[test]
fn ordinary_ids_times_and_paths_survive() {
    kept(
        "request{method=/ochre.v1.AuthService/Login request_id=0193a5c4-7e2b-7c3d-8e4f-5a6b7c8d9e0f}",
    );
    kept(
        "org_id=01936f1e-1234-7abc-8def-123456789012 api_key_id=00000000-0000-0000-0000-000000000000 principal=api_key",
    );
    kept("2026-12-05T20:16:00.123456Z  INFO signed in at=2026-12-05 20:16:00 +00:00");
    kept("iat=1733427360 exp=1733428260 bytes=1048576 port=5432 addr=127.0.0.1:50051");
    kept("head 5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843 seq=42");
    kept("method=/ochre.v1.ApiKeyService/CreateApiKey version 1.13.2 took 12.5ms");
    kept("token refresh refused status=401 Unauthorized");
    kept("/webhooks/{provider}/{org_id}/{integration_id} outcome=accepted");
}

#[test]
fn emails_become_a_keyed_tag_that_correlates() {
    let a = redact("from ada@example.com to bob@example.org");
    assert!(!a.contains('@'), "{a}");
    let tags: Vec<&str> = a
        .split_whitespace()
        .filter(|w| w.starts_with("e:"))
        .collect();
    assert_eq!(tags.len(), 2);
    assert!(tags.iter().all(|t| t.len() == 10));
    assert_ne!(tags[0], tags[1]);
    let again = redact("login Ada@Example.COM failed");
    assert!(again.contains(tags[0]), "same address, same tag: {again}");
    gone("GET /x?email=ada%40example.com", "ada");
    assert!(redact("GET /x?email=ada%40example.com").contains(tags[0]));
}

#[test]
fn phone_numbers_keep_their_last_two_digits() {
    assert_eq!(redact("call +1 415 555 0173 now"), "call [phone:**73] now");
    assert_eq!(redact("tel=+442079460958"), "tel=[phone:**58]");
    assert_eq!(redact("(415) 555-0199"), "[phone:**99]");
    assert_eq!(
        redact("415-555-0142 or 415.555.0143"),
        "[phone:**42] or [phone:**43]"
    );
    kept("offset +00:00 and +0100 and counter+12");
}

#[test]
fn known_secrets_are_replaced_raw_and_encoded() {
    let secret = "kn0wn-Secret-Value-for-the-redactor-test";
    register_secret(&SecretString::from(secret.to_owned()));
    gone(&format!("value {secret} end"), secret);
    let b64 = STANDARD.encode(secret);
    gone(&format!("b64 {b64}"), &b64);
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    gone(&format!("hex {hex}"), &hex);
    let key = [7u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
    register_secret_bytes(&key);
    gone(
        &format!("k={}", URL_SAFE_NO_PAD.encode(key)),
        &URL_SAFE_NO_PAD.encode(key),
    );
    register_secret(&SecretString::from("short".to_owned()));
    kept("a short word");
}

#[test]
fn a_database_urls_password_is_known_raw_and_percent_decoded() {
    register_database_url(&SecretString::from(
        "postgres://app:p%40ss-Word-9f8e7d@db.internal:5432/ochre".to_owned(),
    ));
    gone("auth failed for p@ss-Word-9f8e7d", "p@ss-Word-9f8e7d");
    gone("auth failed for p%40ss-Word-9f8e7d", "p%40ss-Word-9f8e7d");
}

#[test]
fn terminal_escapes_are_removed() {
    assert_eq!(
        redact("\x1b[3mtoken\x1b[0m\x1b[2m=\x1b[0mabc123"),
        "token=[redacted]"
    );
}

#[derive(Clone)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Shared {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture(json: bool) -> String {
    let buf = Shared(Arc::new(Mutex::new(Vec::new())));
    let sink = buf.clone();
    let builder = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(RedactingWriter::new(move || sink.clone()));
    let emit = || {
        let span = tracing::info_span!("request", customer = "ada@example.com");
        let _entered = span.enter();
        tracing::info!(
            authorization = "Bearer sekrit-bearer-value",
            "sent to ada@example.com from +1 415 555 0173"
        );
    };
    if json {
        tracing::subscriber::with_default(builder.json().finish(), emit);
    } else {
        tracing::subscriber::with_default(builder.finish(), emit);
    }
    String::from_utf8(buf.0.lock().unwrap().clone()).unwrap()
}

#[test]
fn every_line_of_both_formats_is_redacted_span_fields_too() {
    for json in [false, true] {
        let out = capture(json);
        assert!(out.contains("sent to e:"), "{out}");
        for leak in ["ada@", "sekrit-bearer-value", "415 555"] {
            assert!(!out.contains(leak), "{leak} leaked: {out}");
        }
        assert!(out.contains("[phone:**73]"), "{out}");
        if json {
            for line in out.lines() {
                serde_json::from_str::<serde_json::Value>(line).expect("still JSON");
            }
        }
    }
}
