//! Drawing a fresh [`Epoch`] for a new run of the stream (and for a replica's lease token).

use std::{
    hash::{BuildHasher, Hasher, RandomState},
    time::SystemTime,
};

use shared::Epoch;

/// A fresh epoch: a random number that tells this run's event ids from any other run's.
pub fn draw() -> Epoch {
    // `RandomState` is seeded from the operating system's randomness; mixing in the clock and the
    // process id guards against a platform where it is not.
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos());
    hasher.write_u128(nanos);
    hasher.write_u32(std::process::id());
    Epoch(hasher.finish())
}
