//! Every live pool in the process, for the file monitor and the fork handlers.

use crate::pool::PoolShared;
use crate::sync::ForkMutex;
use std::sync::{Arc, Weak};

pub(crate) static LIVE_POOLS: ForkMutex<Vec<Weak<PoolShared>>> = ForkMutex::new(Vec::new());

pub(crate) fn register(pool: &Arc<PoolShared>) {
    let mut pools = LIVE_POOLS.lock();
    pools.retain(|p| p.strong_count() > 0);
    pools.push(Arc::downgrade(pool));
}

/// The pools alive now (the registry lock is not held while they are used).
pub(crate) fn live_pools() -> Vec<Arc<PoolShared>> {
    LIVE_POOLS.lock().iter().filter_map(Weak::upgrade).collect()
}
