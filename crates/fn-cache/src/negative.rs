//! Negative entries: loads that failed, remembered so that the same failure costs one
//! load, not one per call.
//!
//! Why here: a module that does not compile never will, and compiling is the most
//! expensive thing a caller can make the engine do, so a broken or hostile module must
//! be refused for good after its first failure. A failure that depends on the moment (a
//! compile that ran out of time on a busy machine) is refused only for a while. The
//! caller says which is which ([`Remember`]); time comes from the cache's clock, so
//! tests move it by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use fn_core::Cid;

/// How long a failed load is remembered, as the cache's failure policy decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Remember {
    /// Not at all: the next call loads again (a fetch that failed, a full pool).
    Never,
    /// For good, until the entry is invalidated (a module that does not compile).
    Forever,
    /// For this long (a compile that timed out). A zero duration is [`Remember::Never`].
    For(Duration),
}

/// The cache's notion of now: [`Instant::now`] unless a test supplies its own.
pub type Clock = Arc<dyn Fn() -> Instant + Send + Sync>;

/// The failures remembered, by CID, bounded in number.
pub(crate) struct Negatives<E> {
    entries: Mutex<HashMap<Cid, Refusal<E>>>,
    max_entries: usize,
    clock: Clock,
}

struct Refusal<E> {
    error: E,
    /// `None`: for good.
    until: Option<Instant>,
}

impl<E: Clone> Negatives<E> {
    pub(crate) fn new(max_entries: usize, clock: Clock) -> Negatives<E> {
        Negatives {
            entries: Mutex::new(HashMap::new()),
            max_entries: max_entries.max(1),
            clock,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<Cid, Refusal<E>>> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The error `cid` failed with, if it is still refused now.
    pub(crate) fn get(&self, cid: &Cid) -> Option<E> {
        let now = (self.clock)();
        let mut entries = self.lock();
        let refusal = entries.get(cid)?;
        match refusal.until {
            Some(until) if now >= until => {
                entries.remove(cid);
                None
            }
            _ => Some(refusal.error.clone()),
        }
    }

    /// Remembers `error` for `cid` as `remember` says. When full, expired entries go
    /// first, then any one (which costs one more load of that module if it comes back).
    pub(crate) fn remember(&self, cid: Cid, error: &E, remember: Remember) {
        let now = (self.clock)();
        let until = match remember {
            Remember::Never => return,
            Remember::For(duration) if duration.is_zero() => return,
            Remember::For(duration) => Some(now + duration),
            Remember::Forever => None,
        };
        let mut entries = self.lock();
        if entries.len() >= self.max_entries && !entries.contains_key(&cid) {
            entries.retain(|_, refusal| refusal.until.is_none_or(|until| until > now));
            if entries.len() >= self.max_entries
                && let Some(victim) = entries.keys().next().copied()
            {
                entries.remove(&victim);
            }
        }
        entries.insert(
            cid,
            Refusal {
                error: error.clone(),
                until,
            },
        );
    }

    /// Forgets `cid`'s failure; whether there was one.
    pub(crate) fn forget(&self, cid: &Cid) -> bool {
        self.lock().remove(cid).is_some()
    }

    pub(crate) fn clear(&self) {
        self.lock().clear();
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);

    /// A clock that moves only when told.
    fn manual_clock() -> (Clock, Arc<Mutex<Instant>>) {
        let now = Arc::new(Mutex::new(Instant::now()));
        let read = now.clone();
        (Arc::new(move || *read.lock().unwrap()), now)
    }

    #[test]
    fn forever_is_for_good_and_for_expires() {
        let (clock, now) = manual_clock();
        let negatives = Negatives::new(16, clock);
        let (bad, slow) = (Cid::of(b"bad"), Cid::of(b"slow"));
        negatives.remember(bad, &"does not compile", Remember::Forever);
        negatives.remember(slow, &"timed out", Remember::For(MINUTE));
        *now.lock().unwrap() += MINUTE - Duration::from_millis(1);
        assert_eq!(negatives.get(&slow), Some("timed out"));
        *now.lock().unwrap() += Duration::from_millis(1);
        assert_eq!(negatives.get(&slow), None, "expired");
        *now.lock().unwrap() += 365 * 24 * 60 * MINUTE;
        assert_eq!(negatives.get(&bad), Some("does not compile"));
        assert!(negatives.forget(&bad));
        assert_eq!(negatives.get(&bad), None);
    }

    #[test]
    fn never_and_zero_are_not_remembered() {
        let (clock, _) = manual_clock();
        let negatives = Negatives::new(16, clock);
        let cid = Cid::of(b"x");
        negatives.remember(cid, &1, Remember::Never);
        negatives.remember(cid, &2, Remember::For(Duration::ZERO));
        assert_eq!(negatives.get(&cid), None);
        assert_eq!(negatives.len(), 0);
    }

    #[test]
    fn the_memory_is_bounded_and_expired_entries_go_first() {
        let (clock, now) = manual_clock();
        let negatives = Negatives::new(8, clock);
        let old = Cid::of(b"old");
        negatives.remember(old, &0, Remember::For(MINUTE));
        for i in 1..8u32 {
            negatives.remember(Cid::of(&i.to_le_bytes()), &i, Remember::Forever);
        }
        *now.lock().unwrap() += MINUTE;
        let new = Cid::of(b"new");
        negatives.remember(new, &99, Remember::Forever);
        assert_eq!(negatives.len(), 8);
        assert_eq!(negatives.get(&new), Some(99));
        for i in 1..8u32 {
            assert_eq!(negatives.get(&Cid::of(&i.to_le_bytes())), Some(i));
        }
        for i in 100..1000u32 {
            negatives.remember(Cid::of(&i.to_le_bytes()), &i, Remember::Forever);
        }
        assert_eq!(negatives.len(), 8);
    }
}
