//! The process's own setting: the async runtime's worker threads
//! (`OCHRE_WORKER_THREADS`), checked when the configuration loads, before
//! the runtime is built.

use super::{
    error::ConfigError,
    layers::{Layers, invalid},
};

/// The most worker threads one may ask for.
const MAX_WORKER_THREADS: usize = 256;

/// `OCHRE_WORKER_THREADS`, or as many as the CPUs this process may use.
pub(super) fn worker_threads(layers: &Layers) -> Result<usize, ConfigError> {
    let Some(value) = layers.get("OCHRE_WORKER_THREADS") else {
        return Ok(std::thread::available_parallelism().map_or(1, |n| n.get()));
    };
    match value.trim().parse::<usize>() {
        Ok(n) if (1..=MAX_WORKER_THREADS).contains(&n) => Ok(n),
        _ => Err(invalid(
            "OCHRE_WORKER_THREADS",
            "must be a number of threads between 1 and 256",
        )),
    }
}
