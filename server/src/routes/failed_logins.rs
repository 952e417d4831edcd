//! Failed logins, throttled per client address: after a burst of wrong or malformed publish
//! tokens, an address is answered `429` before its token is even looked at, so that guessing
//! tokens goes at a few tries per second instead of as fast as the server answers.
//!
//! A leaky bucket per address, in a map bounded by [`MAX_ADDRESSES`]: when it is full, idle
//! buckets are dropped, and if it is still full the addresses it has no room for share one
//! bucket, so an attacker with many addresses cannot grow the map and only throttles itself.
//! (`governor`'s keyed limiter would charge every attempt it checks; refusing a throttled
//! address before its token is checked needs a look that charges nothing.)

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr},
    sync::{Mutex, PoisonError},
    time::Duration,
};

use tokio::time::Instant;

/// Failed attempts an address may make at once before it is throttled.
pub const BURST: f64 = 10.0;
/// Failed attempts per second an address may go on making once throttled.
pub const PER_SECOND: f64 = 1.0;
/// Most addresses tracked at once.
pub const MAX_ADDRESSES: usize = 10_000;
/// The bucket the addresses share when the map is full.
const OVERFLOW: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

/// How full one address's bucket was, and when.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    level: f64,
    at: Instant,
}

impl Bucket {
    /// The level now, after leaking since `at`.
    fn level(&self, now: Instant) -> f64 {
        (self.level - now.duration_since(self.at).as_secs_f64() * PER_SECOND).max(0.0)
    }
}

/// The failed logins of every address seen lately.
#[derive(Debug, Default)]
pub struct FailedLogins {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

impl FailedLogins {
    /// How long `address` must wait before its next attempt is looked at; `None` if it may try
    /// now. Charges nothing.
    pub fn throttled(&self, address: IpAddr) -> Option<Duration> {
        let buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let bucket = buckets.get(&address).or_else(|| {
            buckets
                .get(&OVERFLOW)
                .filter(|_| buckets.len() >= MAX_ADDRESSES)
        })?;
        let over = bucket.level(now) + 1.0 - BURST;
        (over > 0.0).then(|| Duration::from_secs_f64(over / PER_SECOND))
    }

    /// Records one failed attempt from `address`.
    pub fn failed(&self, address: IpAddr) {
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut key = address;
        if !buckets.contains_key(&address) && buckets.len() >= MAX_ADDRESSES {
            buckets.retain(|_, bucket| bucket.level(now) > 0.0);
            if buckets.len() >= MAX_ADDRESSES {
                key = OVERFLOW;
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            level: 0.0,
            at: now,
        });
        bucket.level = bucket.level(now) + 1.0;
        bucket.at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_is_throttled_after_its_burst_and_let_go_as_it_leaks() {
        let logins = FailedLogins::default();
        for _ in 0..9 {
            logins.failed(address(1));
            assert_eq!(logins.throttled(address(1)), None);
        }
        logins.failed(address(1));
        let wait = logins.throttled(address(1)).expect("throttled after 10");
        assert!(wait <= Duration::from_secs(1), "{wait:?}");
        assert_eq!(logins.throttled(address(2)), None, "others are not");
        tokio::time::sleep(wait).await;
        assert_eq!(logins.throttled(address(1)), None);
    }

    #[tokio::test(start_paused = true)]
    async fn the_map_never_grows_past_its_bound_and_the_overflow_is_throttled_together() {
        let logins = FailedLogins::default();
        for n in 0..(MAX_ADDRESSES as u32 + 50) {
            logins.failed(address(n));
        }
        assert!(logins.buckets.lock().unwrap().len() <= MAX_ADDRESSES + 1);
        for n in 0..20 {
            logins.failed(address(1_000_000 + n));
        }
        assert!(
            logins.throttled(address(2_000_000)).is_some(),
            "the shared bucket is full"
        );
        // Once the old buckets have leaked empty, new addresses get their own again.
        tokio::time::sleep(Duration::from_secs(60)).await;
        logins.failed(address(3_000_000));
        assert_eq!(logins.throttled(address(3_000_000)), None);
    }
}
