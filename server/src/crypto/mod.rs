//! The crypto wall: every use of the cipher, MAC and password-hashing
//! crates lives in this module (clippy's `disallowed-methods` and
//! `disallowed-types` in `clippy.toml` keep them here). The vault
//! (XChaCha20-Poly1305 envelopes with key ids), the one signed-envelope type
//! (access tokens, OAuth state, page tokens), opaque token hashing, argon2id
//! passwords on a bounded pool, RFC 6238 TOTP, HMAC for webhook schemes, and
//! the vault contexts every sealed field is bound to, survey tokens, and the
//! keyed tags that stand for email addresses in log lines.

// The wall itself: the only module allowed the primitives clippy.toml bans.
#![allow(clippy::disallowed_types, clippy::disallowed_methods)]

pub mod audit_chain;
pub mod audit_checkpoint;
pub mod contexts;
pub mod envelope;
pub mod log_tag;
pub mod mac;
pub mod password;
pub mod session_proof;
pub mod survey_token;
pub mod tokens;
pub mod totp;
pub mod vault;
