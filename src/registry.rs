//! Every live pool in the process, for the file monitor and the fork handlers.

use crate::pool::PoolShared;
use crate::sync::ForkMutex;
use crate::prim::Ordering::Relaxed;
use crate::prim::{Arc, AtomicUsize, Weak};

/// The pools of the process; may hold dropped ones (upgrade fails) until
/// the next prune.
pub(crate) static LIVE_POOLS: ForkMutex<Vec<Weak<PoolShared>>> = ForkMutex::new(Vec::new());

/// The list's length at which `register` next drops dead entries: twice the
/// live ones after the last prune, so that each open costs O(1) amortised
/// (a prune on every open made opening the n-th pool O(n)).
static PRUNE_AT_LEN: AtomicUsize = AtomicUsize::new(MIN_PRUNE_LEN);
const MIN_PRUNE_LEN: usize = 64;

pub(crate) fn register(pool: &Arc<PoolShared>) {
    let mut pools = LIVE_POOLS.lock();
    if pools.len() >= PRUNE_AT_LEN.load(Relaxed) {
        pools.retain(|p| p.strong_count() > 0);
        PRUNE_AT_LEN.store((pools.len() * 2).max(MIN_PRUNE_LEN), Relaxed);
    }
    pools.push(Arc::downgrade(pool));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Options, Pool};

    /// Issue 11: the list is pruned amortised, not on every open; dropped
    /// pools must still leave it, or a process opening and closing pools
    /// for ever would grow it for ever.
    #[test]
    fn dropped_pools_leave_the_list_and_it_stays_bounded() {
        let dir = crate::test_support::scratch_dir("registry");
        let path = dir.join("r.db");
        std::fs::write(&path, b"").unwrap();
        let mut most = 0;
        for _ in 0..1_000 {
            let pool = Pool::open(path.to_str().unwrap(), Options::default()).unwrap();
            most = most.max(LIVE_POOLS.lock().len());
            drop(pool);
        }
        // Other tests of this binary open a few pools meanwhile.
        assert!(most < 200, "the list grew to {most} entries for about one live pool");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
