//! Idempotency-Key rules. Pure.

use sha2::{Digest, Sha256};

/// How long the first response to a key is kept and replayed.
pub const RETENTION: chrono::Duration = chrono::Duration::hours(24);

/// Longest accepted key.
pub const MAX_KEY_LEN: usize = 255;

/// A key is 1–255 visible ASCII characters (UUIDs are the usual choice).
pub fn valid_key(key: &str) -> bool {
    !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b.is_ascii_graphic())
}

/// SHA-256 (hex) of a request's method, path with query, and body: what "the same request"
/// means for a key.
pub fn fingerprint(method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(method.as_bytes());
    h.update(b"\n");
    h.update(path_and_query.as_bytes());
    h.update(b"\n");
    h.update(body);
    hex::encode(h.finalize())
}

/// The 32-bit lock key of a caller's key (the first bytes of SHA-256 of both): two requests
/// with the same caller and key always get the same lock; two others rarely do, and then only
/// wait for each other.
pub fn lock_key(scope: &str, key: &str) -> i32 {
    let mut h = Sha256::new();
    h.update(scope.as_bytes());
    h.update(b"\n");
    h.update(key.as_bytes());
    let d = h.finalize();
    i32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        assert!(valid_key("0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c"));
        assert!(valid_key("x"));
        assert!(!valid_key(""));
        assert!(!valid_key("with space"));
        assert!(!valid_key("clé"));
        assert!(!valid_key(&"k".repeat(256)));
    }

    #[test]
    fn fingerprints_distinguish_method_path_and_body() {
        let a = fingerprint("POST", "/api/v1/members", b"{}");
        assert_eq!(a, fingerprint("POST", "/api/v1/members", b"{}"));
        assert_ne!(a, fingerprint("POST", "/api/v1/suppliers", b"{}"));
        assert_ne!(a, fingerprint("POST", "/api/v1/members", b"{ }"));
        assert_ne!(a, fingerprint("PUT", "/api/v1/members", b"{}"));
    }

    #[test]
    fn lock_keys_depend_on_caller_and_key_only() {
        let a = lock_key("0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", "k-1");
        assert_eq!(a, lock_key("0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", "k-1"));
        assert_ne!(a, lock_key("0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5c", "k-2"));
        assert_ne!(a, lock_key("0190f3a2-7c1e-7d2a-9c4e-5b1a2f3e4d5d", "k-1"));
        // The separator keeps ("ab", "c") and ("a", "bc") apart.
        assert_ne!(lock_key("ab", "c"), lock_key("a", "bc"));
    }
}
