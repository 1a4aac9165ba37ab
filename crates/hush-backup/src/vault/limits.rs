//! Every bound the vault enforces, in one place.
//!
//! These live in the vault module (not the crate's `limits.rs`) because they exist only
//! with the `vault` feature.

/// Shortest user id the vault accepts, in bytes.
pub const MIN_USER_ID_LEN: usize = 1;
/// Longest user id the vault accepts, in bytes. User ids are chosen by the application
/// (an account id, a hash of a phone number); 256 bytes is room for any of them.
pub const MAX_USER_ID_LEN: usize = 256;

/// Failed logins a record survives before it is destroyed, unless the vault is configured
/// otherwise (WhatsApp's backup vault uses 10 as well).
pub const DEFAULT_ATTEMPT_LIMIT: u32 = 10;
/// Largest configurable attempt limit.
pub const MAX_ATTEMPT_LIMIT: u32 = 1000;

/// How long the update authorization of a successful login stays valid, by default:
/// ten minutes, in milliseconds.
pub const DEFAULT_UPDATE_LIFETIME_MS: u64 = 10 * 60 * 1000;
/// Longest configurable update-authorization lifetime: one day, in milliseconds.
pub const MAX_UPDATE_LIFETIME_MS: u64 = 24 * 60 * 60 * 1000;

/// Smallest Argon2id memory cost, in KiB, that a record may carry (Argon2's own minimum of
/// 8 KiB per lane is also enforced). Deliberately tiny so tests run quickly; the default
/// is [`DEFAULT_KSF_MEMORY_KIB`].
pub const MIN_KSF_MEMORY_KIB: u32 = 8;
/// Largest Argon2id memory cost, in KiB (256 MiB, the same as a password-wrapped key's
/// [`crate::limits::MAX_ARGON2_MEMORY_KIB`]): a hostile vault cannot make a client
/// allocate more.
pub const MAX_KSF_MEMORY_KIB: u32 = crate::limits::MAX_ARGON2_MEMORY_KIB;
/// Largest product of memory (KiB) and iterations: 512 MiB x passes, the most one login
/// attempt may cost a phone (the same as [`crate::limits::MAX_ARGON2_WORK`], whose
/// comment gives the reasoning). A hostile vault answers every login with the
/// parameters of its choice; without this the old bounds let it ask for 1 GiB x 100
/// passes per attempt (issue 16, item 16).
pub const MAX_KSF_WORK: u64 = crate::limits::MAX_ARGON2_WORK;
/// Smallest Argon2id iteration count.
pub const MIN_KSF_ITERATIONS: u32 = 1;
/// Largest Argon2id iteration count.
pub const MAX_KSF_ITERATIONS: u32 = 100;
/// Smallest Argon2id lane count.
pub const MIN_KSF_PARALLELISM: u32 = 1;
/// Largest Argon2id lane count.
pub const MAX_KSF_PARALLELISM: u32 = 16;

/// Default Argon2id memory cost: 19 MiB (OWASP's first recommended configuration).
pub const DEFAULT_KSF_MEMORY_KIB: u32 = 19 * 1024;
/// Default Argon2id iteration count (OWASP).
pub const DEFAULT_KSF_ITERATIONS: u32 = 2;
/// Default Argon2id lane count (OWASP).
pub const DEFAULT_KSF_PARALLELISM: u32 = 1;

/// Longest message any vault decoder looks at; every decoder checks the exact length of
/// its message before reading further, so this is only an upper bound for transports.
pub const MAX_MESSAGE_LEN: usize = crate::vault::messages::UPDATE_REQUEST_MAX_LEN;

// The default parameters a client registers with are within the bounds.
const _: () = {
    assert!(DEFAULT_KSF_MEMORY_KIB <= MAX_KSF_MEMORY_KIB);
    assert!(DEFAULT_KSF_MEMORY_KIB as u64 * DEFAULT_KSF_ITERATIONS as u64 <= MAX_KSF_WORK);
};
