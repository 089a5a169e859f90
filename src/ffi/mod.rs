//! C ABI veneer (to come).
