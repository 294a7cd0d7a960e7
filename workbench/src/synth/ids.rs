//! Identifiers of generated records: HMAC-SHA256 pseudonyms for children and families, and
//! readable ids for episodes, reports, events, interventions, placements and assessments.
//!
//! Readable ids are built from decimal numbers without leading zeros, each under 8 digits, joined
//! by letters and hyphens, so they can never look like a national register or phone number.

use hmac::{Hmac, KeyInit, Mac};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// Name of the pseudonym scheme written into `data_release.pseudonym_scheme`.
pub const PSEUDONYM_SCHEME: &str = "SYNTH_HMAC_SHA256_v1";

/// The pseudonym of simulation object `index` of a kind (`"child"`, `"family"`): 64 lowercase hex
/// characters, HMAC-SHA256 under a key derived from the seed (SHA-256 of
/// `"workbench-synth-pseudonym-key\0"` and the seed as 8 little-endian bytes) of the message
/// `kind ‖ 0x00 ‖ index` (index as 8 big-endian bytes).
pub fn pseudonym(seed: u64, kind: &str, index: u64) -> String {
    let mut k = Sha256::new();
    k.update(b"workbench-synth-pseudonym-key\0");
    k.update(seed.to_le_bytes());
    let key: [u8; 32] = k.finalize().into();
    let mut mac = match Hmac::<Sha256>::new_from_slice(&key) {
        Ok(m) => m,
        // HMAC accepts keys of any length; this arm cannot be taken.
        Err(_) => return String::new(),
    };
    mac.update(kind.as_bytes());
    mac.update(&[0]);
    mac.update(&index.to_be_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A ChaCha8 random stream for one purpose and index: the key is SHA-256 of the purpose and the
/// seed, the ChaCha stream number is the index. Streams never overlap, whatever the thread count.
pub fn stream(seed: u64, purpose: &str, index: u64) -> ChaCha8Rng {
    let mut h = Sha256::new();
    h.update(b"workbench-synth-stream\0");
    h.update(purpose.as_bytes());
    h.update([0]);
    h.update(seed.to_le_bytes());
    let key: [u8; 32] = h.finalize().into();
    let mut rng = ChaCha8Rng::from_seed(key);
    rng.set_stream(index);
    rng
}

/// A number as id text: decimal below 10^7, else `<millions>m<rest>` so no run of digits reaches
/// 8 and none starts with 0 (except the single digit 0).
pub fn num(n: u64) -> String {
    if n < 10_000_000 {
        n.to_string()
    } else {
        format!("{}m{}", num(n / 1_000_000), n % 1_000_000)
    }
}

/// `<prefix>-<owner>-<seq>`, e.g. `EP-12-1`.
pub fn id(prefix: &str, owner: u64, seq: u64) -> String {
    format!("{prefix}-{}-{}", num(owner), num(seq))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn pseudonyms_are_64_hex_unique_and_seeded() {
        let mut seen = HashSet::new();
        for i in 0..2000 {
            let p = pseudonym(7, "child", i);
            assert_eq!(p.len(), 64);
            assert!(
                p.chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
            );
            assert!(seen.insert(p));
        }
        assert_ne!(pseudonym(7, "child", 1), pseudonym(8, "child", 1));
        assert_ne!(pseudonym(7, "child", 1), pseudonym(7, "family", 1));
        assert_eq!(pseudonym(7, "child", 1), pseudonym(7, "child", 1));
    }

    #[test]
    fn readable_ids_never_hold_long_digit_runs_or_leading_zeros() {
        for n in [
            0u64,
            1,
            9_999_999,
            10_000_000,
            12_000_345,
            1_000_000_000_007,
            u64::MAX,
        ] {
            let s = id("EV", n, n);
            for tok in s.split(|c: char| !c.is_ascii_digit()) {
                assert!(tok.len() < 8, "{s}");
                assert!(tok.len() <= 1 || !tok.starts_with('0'), "{s}");
            }
        }
    }
}
