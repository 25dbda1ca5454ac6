//! A token bucket per peer address, for guest requests (the unauthenticated ones, which cost
//! the server RSA operations).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Most peers tracked at once. When full, peers whose bucket has refilled are forgotten; if
/// none has, new peers are refused until some have (the table never grows past this).
const MAX_PEERS: usize = 65_536;

/// The client an address stands for: an IPv4 address, or an IPv6 /64 prefix (one host or
/// one site is typically given a whole /64, so counting its addresses one by one would give
/// one client 2^64 separate allowances). IPv4-mapped IPv6 addresses count as their IPv4.
pub fn client_of(peer: IpAddr) -> IpAddr {
    match peer {
        IpAddr::V4(_) => peer,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        },
    }
}

/// Allows `rate` requests per second per peer, with bursts of up to `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

impl RateLimiter {
    /// `rate` requests per second (0 disables the limit), bursts of `burst` (at least 1).
    pub fn new(rate: u32, burst: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(rate),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Allows `per_hour` requests an hour per peer, all of them at once if it likes (0
    /// disables the limit).
    pub fn per_hour(per_hour: u32) -> RateLimiter {
        RateLimiter {
            rate: f64::from(per_hour) / 3600.0,
            burst: f64::from(per_hour.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `peer` (counted as [`client_of`] it) at `now_ms` (milliseconds on
    /// any monotonic clock).
    pub fn allow(&self, peer: IpAddr, now_ms: u64) -> bool {
        if self.rate == 0.0 {
            return true;
        }
        let peer = client_of(peer);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_PEERS && !buckets.contains_key(&peer) {
            buckets.retain(|_, b| self.refilled(*b, now_ms) < self.burst);
            if buckets.len() >= MAX_PEERS {
                return false;
            }
        }
        let bucket = buckets.entry(peer).or_insert(Bucket {
            tokens: self.burst,
            at_ms: now_ms,
        });
        let tokens = self.refilled(*bucket, now_ms);
        let allowed = tokens >= 1.0;
        *bucket = Bucket {
            tokens: if allowed { tokens - 1.0 } else { tokens },
            at_ms: now_ms.max(bucket.at_ms),
        };
        allowed
    }

    fn refilled(&self, b: Bucket, now_ms: u64) -> f64 {
        let elapsed = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
        (b.tokens + elapsed * self.rate).min(self.burst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_refills_per_peer() {
        let limiter = RateLimiter::new(2, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let allowed = (0..5).filter(|_| limiter.allow(a, 1_000)).count();
        assert_eq!(allowed, 3, "a burst of 3");
        assert!(limiter.allow(b, 1_000), "another peer has its own bucket");
        assert!(!limiter.allow(a, 1_400), "0.8 token after 400 ms at 2/s");
        assert!(limiter.allow(a, 1_500), "one token after 500 ms");
        assert!(!limiter.allow(a, 1_500));
    }

    #[test]
    fn an_ipv6_slash_64_is_one_client() {
        let limiter = RateLimiter::new(1, 2);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same_64: IpAddr = "2001:db8:1:2:ffff:ffff:ffff:ffff".parse().unwrap();
        let other_64: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        assert!(limiter.allow(a, 0));
        assert!(limiter.allow(same_64, 0));
        assert!(!limiter.allow(a, 0), "the /64 has used its burst");
        assert!(limiter.allow(other_64, 0), "another /64 has its own");
        let v4: IpAddr = "192.0.2.9".parse().unwrap();
        let mapped: IpAddr = "::ffff:192.0.2.9".parse().unwrap();
        assert_eq!(client_of(mapped), v4);
        assert!(limiter.allow(v4, 0));
        assert!(limiter.allow(mapped, 0));
        assert!(
            !limiter.allow(v4, 0),
            "a mapped address is its IPv4 address"
        );
    }

    #[test]
    fn zero_rate_disables() {
        let limiter = RateLimiter::new(0, 0);
        let a: IpAddr = "::1".parse().unwrap();
        assert!((0..1000).all(|_| limiter.allow(a, 0)));
    }
}
