//! `hush demo`: Alice and Bob meet, with real keys from the operating system's RNG.
//!
//! Every step prints what happened in plain words and checks itself; the demo exits 0
//! only if every check held. Until hush has its facade (stores, multi-device fan-out),
//! the story uses the protocol crates directly: identities, signatures, safety numbers,
//! the key agreements a session starts from, a session started from a bundle the
//! server validated and handed out, and a group message.

use std::fmt::Write as _;
use std::process::ExitCode;

use hush_core::rng::{Rng, os_rng};
use hush_core::{
    Fingerprint, IdentityKey, IdentityKeyPair, KemCiphertext, KemKeyPair, KemKeyType, KemPublicKey,
    KeyPair, PublicKey, ScannableFingerprint, Signature,
};

/// Safety numbers as Signal apps compute them today: version 2 (ACI identifiers), 5200
/// hash iterations.
const FINGERPRINT_VERSION: u32 = 2;
const FINGERPRINT_ITERATIONS: u32 = 5200;

/// Counts the checks and prints each one.
#[derive(Debug, Default)]
pub(crate) struct Checks {
    held: u32,
    failed: u32,
}

impl Checks {
    pub(crate) fn check(&mut self, held: bool, what: &str) {
        if held {
            self.held += 1;
            println!("  ok    {what}");
        } else {
            self.failed += 1;
            println!("  FAIL  {what}");
        }
    }

    /// Records a step that could not even run (a decoder refused our own output).
    fn error(&mut self, what: &str, error: &hush_core::Error) {
        self.failed += 1;
        println!("  FAIL  {what}: {error}");
    }
}

/// Runs the demo.
pub(crate) fn run() -> ExitCode {
    let mut checks = Checks::default();
    let mut rng = os_rng();

    println!("1. Alice and Bob each create an identity key pair.");
    let alice = IdentityKeyPair::generate(&mut rng);
    let bob = IdentityKeyPair::generate(&mut rng);
    println!(
        "   Alice's public identity key: {}",
        hex::encode(alice.identity_key().encode())
    );
    println!(
        "   Bob's public identity key:   {}",
        hex::encode(bob.identity_key().encode())
    );
    checks.check(
        alice.identity_key() != bob.identity_key(),
        "the two identities differ",
    );

    println!();
    println!("2. Alice signs a message; Bob checks it with her public key as sent on the wire.");
    let message = b"Meet me at the usual place at noon.";
    let signature = alice.sign(message, &mut rng);
    println!("   message:   {:?}", String::from_utf8_lossy(message));
    println!("   signature: {}", hex::encode(signature.as_bytes()));
    match IdentityKey::decode(&alice.identity_key().encode()) {
        Ok(alice_seen_by_bob) => {
            checks.check(
                alice_seen_by_bob.verify(message, &signature),
                "the signature verifies",
            );
            let tampered = b"Meet me at the usual place at one.";
            checks.check(
                !alice_seen_by_bob.verify(tampered, &signature),
                "a tampered message does not verify",
            );
            let mut bytes = signature.to_bytes();
            if let Some(first) = bytes.first_mut() {
                *first ^= 1;
            }
            checks.check(
                !alice_seen_by_bob.verify(message, &Signature::from_bytes(bytes)),
                "a tampered signature does not verify",
            );
            checks.check(
                !bob.identity_key().verify(message, &signature),
                "the signature does not verify under Bob's key",
            );
        }
        Err(e) => checks.error("decoding Alice's public identity key", &e),
    }

    println!();
    println!("3. Each computes the safety number of their conversation.");
    let mut alice_id = [0u8; 16];
    let mut bob_id = [0u8; 16];
    rng.fill_bytes(&mut alice_id);
    rng.fill_bytes(&mut bob_id);
    println!("   Alice's account id: {}", uuid(&alice_id));
    println!("   Bob's account id:   {}", uuid(&bob_id));
    safety_numbers(&mut checks, (&alice_id, &alice), (&bob_id, &bob), &mut rng);

    println!();
    println!("4. They agree on secrets: X25519, then Kyber1024 (the post-quantum half of PQXDH).");
    key_agreements(&mut checks, &mut rng);

    println!();
    println!(
        "5. Bob publishes prekeys through the server; Alice starts a session from his bundle."
    );
    let sessions = crate::demo_sessions::session(&mut checks, &alice, &bob, &mut rng);

    if let Some(mut sessions) = sessions {
        println!();
        println!("6. Alice starts a group chat: one ciphertext, fanned out by the server.");
        crate::demo_sessions::group(&mut checks, &mut sessions, &mut rng);
    }

    println!();
    if checks.failed == 0 {
        println!("All {} checks held.", checks.held);
        ExitCode::SUCCESS
    } else {
        println!(
            "{} of {} checks FAILED.",
            checks.failed,
            checks.held + checks.failed
        );
        ExitCode::from(1)
    }
}

fn safety_numbers(
    checks: &mut Checks,
    (alice_id, alice): (&[u8], &IdentityKeyPair),
    (bob_id, bob): (&[u8], &IdentityKeyPair),
    rng: &mut impl hush_core::rng::CryptoRng,
) {
    let (alice_key, bob_key) = (alice.identity_key(), bob.identity_key());
    let (version, iterations) = (FINGERPRINT_VERSION, FINGERPRINT_ITERATIONS);
    let seen_by_alice =
        Fingerprint::new(version, iterations, alice_id, &alice_key, bob_id, &bob_key);
    let seen_by_bob = Fingerprint::new(version, iterations, bob_id, &bob_key, alice_id, &alice_key);
    let (seen_by_alice, seen_by_bob) = match (seen_by_alice, seen_by_bob) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return checks.error("computing the safety number", &e),
    };
    let digits = seen_by_alice.displayable().to_string();
    println!("   Alice's screen: {}", grouped(&digits));
    println!(
        "   Bob's screen:   {}",
        grouped(&seen_by_bob.displayable().to_string())
    );
    checks.check(
        digits.len() == 60 && digits.bytes().all(|b| b.is_ascii_digit()),
        "the safety number is 60 digits",
    );
    checks.check(
        digits == seen_by_bob.displayable().to_string(),
        "both screens show the same safety number",
    );

    let scanned_by_alice = ScannableFingerprint::decode(&seen_by_bob.scannable().encode());
    match scanned_by_alice.and_then(|scanned| seen_by_alice.scannable().compare(&scanned)) {
        Ok(same) => checks.check(same, "Alice scans Bob's QR code: it matches"),
        Err(e) => checks.error("Alice scanning Bob's QR code", &e),
    }

    // Mallory replaced Bob's key in transit: Alice's screen now shows another number.
    let mallory = IdentityKeyPair::generate(rng).identity_key();
    match Fingerprint::new(version, iterations, alice_id, &alice_key, bob_id, &mallory) {
        Ok(fooled) => {
            checks.check(
                fooled.displayable().to_string() != digits,
                "with Mallory's key in place of Bob's, the safety number changes",
            );
            match fooled.scannable().compare(seen_by_bob.scannable()) {
                Ok(same) => checks.check(!same, "and Bob's real QR code does not match it"),
                Err(e) => checks.error("comparing with Mallory's safety number", &e),
            }
        }
        Err(e) => checks.error("computing the safety number with Mallory's key", &e),
    }
}

fn key_agreements(checks: &mut Checks, rng: &mut impl hush_core::rng::CryptoRng) {
    let alice_ephemeral = KeyPair::generate(rng);
    let bob_prekey = KeyPair::generate(rng);
    match PublicKey::decode(&bob_prekey.public_key().encode()) {
        Ok(bob_public) => {
            let from_alice = alice_ephemeral.private_key().agree(&bob_public);
            let from_bob = bob_prekey
                .private_key()
                .agree(&alice_ephemeral.public_key());
            match (from_alice, from_bob) {
                (Ok(a), Ok(b)) => checks.check(a == b, "X25519: both sides hold the same secret"),
                (Err(e), _) | (_, Err(e)) => checks.error("X25519 agreement", &e),
            }
        }
        Err(e) => checks.error("decoding Bob's prekey", &e),
    }

    let bob_kyber = KemKeyPair::generate(KemKeyType::Kyber1024, rng);
    let public = bob_kyber.public_key().encode();
    println!(
        "   Bob's Kyber1024 public key: {} bytes, starting {}",
        public.len(),
        short(&public)
    );
    let Ok(public) = KemPublicKey::decode(&public)
        .inspect_err(|e| checks.error("Alice decoding Bob's Kyber1024 key", e))
    else {
        return;
    };
    let (ciphertext, alice_secret) = public.encapsulate(rng);
    let ciphertext = ciphertext.encode();
    println!(
        "   Alice's ciphertext:         {} bytes, starting {}",
        ciphertext.len(),
        short(&ciphertext)
    );
    let bob_secret = KemCiphertext::decode(&ciphertext)
        .and_then(|ciphertext| bob_kyber.secret_key().decapsulate(&ciphertext));
    match bob_secret {
        Ok(bob_secret) => {
            checks.check(
                alice_secret == bob_secret,
                "Kyber1024: both sides hold the same secret",
            );
        }
        Err(e) => checks.error("Bob decapsulating", &e),
    }
    let mut tampered = ciphertext;
    if let Some(byte) = tampered.get_mut(100) {
        *byte ^= 1;
    }
    match KemCiphertext::decode(&tampered).and_then(|c| bob_kyber.secret_key().decapsulate(&c)) {
        Ok(other) => checks.check(
            other != alice_secret,
            "a tampered ciphertext gives Bob an unrelated secret",
        ),
        Err(e) => checks.error("Bob decapsulating a tampered ciphertext", &e),
    }
}

/// 60 digits as Signal shows them: 12 blocks of 5.
fn grouped(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 5);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && i % 5 == 0 {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// 16 bytes in UUID form.
fn uuid(bytes: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    for (i, b) in bytes.iter().enumerate() {
        if matches!(i, 4 | 6 | 8 | 10) {
            out.push('-');
        }
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// The first 8 bytes of a long public value, in hex.
fn short(bytes: &[u8]) -> String {
    format!("{}...", hex::encode(bytes.get(..8).unwrap_or(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_of_five() {
        assert_eq!(grouped("1234567890123"), "12345 67890 123");
        let sixty = "0123456789".repeat(6);
        assert_eq!(grouped(&sixty).split(' ').count(), 12);
    }

    #[test]
    fn uuid_form() {
        assert_eq!(uuid(&[0xab; 16]), "abababab-abab-abab-abab-abababababab");
    }
}
