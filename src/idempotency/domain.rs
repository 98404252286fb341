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
}
