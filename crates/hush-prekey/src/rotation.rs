//! When to rotate, replenish and delete prekeys. Pure functions of the times and counts
//! passed in; the caller reads its clock and its server's counts.

use crate::limits::{
    DEFAULT_GRACE_PERIOD_MS, DEFAULT_ONE_TIME_LOW_WATER, DEFAULT_ONE_TIME_TARGET,
    DEFAULT_SIGNED_PREKEY_ROTATION_MS,
};

/// A client's prekey rotation policy. All times are milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RotationPolicy {
    /// A signed prekey (or last-resort KEM prekey) this old is replaced.
    pub signed_prekey_max_age_ms: u64,
    /// A replaced signed prekey is kept this long after its successor was made, so that
    /// first messages sent to it before the server handed out the successor still
    /// decrypt.
    pub grace_period_ms: u64,
    /// Replenish one-time keys of a kind when the server holds fewer than this.
    pub one_time_low_water: u32,
    /// Replenish up to this many one-time keys of a kind.
    pub one_time_target: u32,
}

impl Default for RotationPolicy {
    /// Rotate every 2 days, keep replaced keys 30 days, replenish below 10 up to 100.
    fn default() -> Self {
        Self {
            signed_prekey_max_age_ms: DEFAULT_SIGNED_PREKEY_ROTATION_MS,
            grace_period_ms: DEFAULT_GRACE_PERIOD_MS,
            one_time_low_water: DEFAULT_ONE_TIME_LOW_WATER,
            one_time_target: DEFAULT_ONE_TIME_TARGET,
        }
    }
}

impl RotationPolicy {
    /// Whether a signed prekey made at `created_ms` is due for replacement at `now_ms`:
    /// it is at least [`RotationPolicy::signed_prekey_max_age_ms`] old, or stamped so far
    /// in the future (more than one rotation period) that its clock was wrong.
    #[must_use]
    pub const fn signed_prekey_due(&self, created_ms: u64, now_ms: u64) -> bool {
        match now_ms.checked_sub(created_ms) {
            Some(age) => age >= self.signed_prekey_max_age_ms,
            None => created_ms - now_ms > self.signed_prekey_max_age_ms,
        }
    }

    /// How many one-time keys of a kind to make and upload when the server reports it
    /// holds `server_count`: none while it holds at least
    /// [`RotationPolicy::one_time_low_water`], otherwise enough to reach
    /// [`RotationPolicy::one_time_target`].
    #[must_use]
    pub const fn replenish_count(&self, server_count: u32) -> u32 {
        if server_count >= self.one_time_low_water {
            0
        } else {
            self.one_time_target.saturating_sub(server_count)
        }
    }

    /// Which stored signed prekeys (or last-resort KEM prekeys) can be deleted at
    /// `now_ms`, given `(id, timestamp_ms)` for each and the id of the one in use.
    ///
    /// A key is deletable when it is not `current_id`, a newer key (larger timestamp)
    /// exists, and the oldest such newer key was made at least
    /// [`RotationPolicy::grace_period_ms`] ago: by then every first message sent to the
    /// old key has had a grace period to arrive. Returns ids in the order given.
    #[must_use]
    pub fn deletable_signed_prekeys(
        &self,
        keys: &[(u32, u64)],
        current_id: u32,
        now_ms: u64,
    ) -> Vec<u32> {
        keys.iter()
            .filter(|&&(id, _)| id != current_id)
            .filter_map(|&(id, created)| {
                let superseded_at = keys
                    .iter()
                    .map(|&(_, t)| t)
                    .filter(|&t| t > created)
                    .min()?;
                (now_ms.saturating_sub(superseded_at) >= self.grace_period_ms).then_some(id)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::limits::DAY_MS;

    #[test]
    fn rotation_is_due_by_age_or_absurd_future() {
        let policy = RotationPolicy::default();
        let t = 1_700_000_000_000;
        assert!(!policy.signed_prekey_due(t, t));
        assert!(!policy.signed_prekey_due(t, t + 2 * DAY_MS - 1));
        assert!(policy.signed_prekey_due(t, t + 2 * DAY_MS));
        assert!(
            !policy.signed_prekey_due(t + DAY_MS, t),
            "a little ahead is clock skew"
        );
        assert!(
            policy.signed_prekey_due(t + 3 * DAY_MS, t),
            "far ahead means a broken clock"
        );
    }

    #[test]
    fn replenish_up_to_target_below_low_water() {
        let policy = RotationPolicy::default();
        assert_eq!(policy.replenish_count(0), 100);
        assert_eq!(policy.replenish_count(9), 91);
        assert_eq!(policy.replenish_count(10), 0);
        assert_eq!(policy.replenish_count(500), 0);
    }

    #[test]
    fn deletion_keeps_current_and_recently_replaced() {
        let policy = RotationPolicy::default();
        let day = DAY_MS;
        // Keys made on days 0, 10, 45, 50; key 4 (day 50) is current; now is day 60.
        let keys = [(1, 0), (2, 10 * day), (3, 45 * day), (4, 50 * day)];
        // Key 1 was replaced on day 10 (50 days ago): deletable. Key 2 on day 45 (15 days
        // ago): kept. Key 3 on day 50: kept. Key 4 is current.
        assert_eq!(policy.deletable_signed_prekeys(&keys, 4, 60 * day), [1]);
        assert_eq!(policy.deletable_signed_prekeys(&keys, 4, 75 * day), [1, 2]);
        assert_eq!(
            policy.deletable_signed_prekeys(&keys, 4, 80 * day),
            [1, 2, 3]
        );
        // The newest key is never deleted even if not current (nothing replaced it).
        assert_eq!(
            policy.deletable_signed_prekeys(&keys, 1, 1000 * day),
            [2, 3]
        );
        assert!(policy.deletable_signed_prekeys(&[], 1, 0).is_empty());
    }
}
