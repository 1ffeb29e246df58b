//! Per-caller rate limits: a token bucket per principal (API key, wallet, or peer IP for
//! anonymous callers). The table of buckets is bounded: past [`MAX_BUCKETS`] the ones full
//! again (idle callers) are dropped, so a stream of new addresses cannot grow it.

use std::collections::HashMap;
use std::time::Instant;

use parking_lot::Mutex;

/// Most buckets kept.
pub const MAX_BUCKETS: usize = 100_000;

/// Rate and burst of every bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimit {
    /// Requests per second, sustained.
    pub per_sec: f64,
    /// Requests in a burst (bucket size).
    pub burst: f64,
}

impl Default for RateLimit {
    fn default() -> Self {
        Self { per_sec: 200.0, burst: 400.0 }
    }
}

struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The buckets.
pub struct Limiter {
    limit: RateLimit,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Limiter {
    /// Buckets with this limit.
    pub fn new(limit: RateLimit) -> Self {
        Self { limit, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one token from `bucket`'s bucket: `Ok` or the seconds until one is there.
    pub fn take(&self, bucket: &str) -> Result<(), u64> {
        let now = Instant::now();
        let RateLimit { per_sec, burst } = self.limit;
        let mut b = self.buckets.lock();
        if b.len() >= MAX_BUCKETS && !b.contains_key(bucket) {
            b.retain(|_, v| v.tokens + now.duration_since(v.at).as_secs_f64() * per_sec < burst);
            if b.len() >= MAX_BUCKETS {
                // Everyone is busy: refuse the newcomer rather than grow.
                return Err(1);
            }
        }
        let entry = b.entry(bucket.to_string()).or_insert(Bucket { tokens: burst, at: now });
        entry.tokens =
            (entry.tokens + now.duration_since(entry.at).as_secs_f64() * per_sec).min(burst);
        entry.at = now;
        if entry.tokens >= 1.0 {
            entry.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - entry.tokens) / per_sec).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_refused_and_buckets_are_separate() {
        let l = Limiter::new(RateLimit { per_sec: 0.001, burst: 3.0 });
        for _ in 0..3 {
            l.take("a").unwrap();
        }
        assert!(l.take("a").unwrap_err() >= 1);
        l.take("b").unwrap();
    }
}
