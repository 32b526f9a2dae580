//! The Ochre v1 API for Rust.
//!
//! - [`client::OchreClient`] (feature `client`, on by default): the client
//!   a partner backend programs against — API key or user session, the org
//!   header, single-flight session refresh, retries of idempotent calls,
//!   one error type with the `google.rpc` details decoded. Start there.
//! - [`v1`]: the messages and the generated gRPC clients (and, with the
//!   `server` feature, server stubs) of the contract.
//! - [`access`]: the access table generated from the `ochre.v1.access`
//!   method options; [`FILE_DESCRIPTOR_SET`]: the encoded contract.
//!
//! Everything generated comes from the crate's copy of the contract
//! (`sdk/proto/`, equal to the repository's `proto/`) by `build.rs`; the
//! server and partner backends share this one copy.

pub mod access;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "client")]
mod export;
#[cfg(feature = "client")]
pub use export::{SaveExportError, SavedExport, save_export};
#[cfg(feature = "contract")]
pub mod contract;

/// Generated code for the `ochre.v1` package.
#[allow(
    missing_docs,
    missing_debug_implementations,
    clippy::all,
    rustdoc::invalid_html_tags
)]
pub mod v1 {
    tonic::include_proto!("ochre.v1");
}

/// The encoded `FileDescriptorSet` of the contract (with options and
/// imports), as served by reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/ochre_descriptor.bin"));

/// The metadata header that names the org a call acts on.
pub const ORG_HEADER: &str = "x-ochre-org";

/// The README's examples compile (`cargo test --doc -p ochre-sdk`).
#[cfg(all(doctest, feature = "client"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
