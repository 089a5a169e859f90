//! A handle table's slots (src/slot.rs) and its free list: slots are
//! allocated a chunk at a time and never moved or freed while the table
//! lives, so a lookup (any thread, any handle value, no lock) never touches
//! released memory. Small chunks under loom, so that models reach a second.

use crate::prim::{AtomicPtr, Ordering};
use crate::slot::Slot;
use crate::sync::ForkMutex;

#[cfg(not(loom))]
pub const CHUNK: usize = 256;
#[cfg(not(loom))]
pub const MAX_CHUNKS: usize = 4096;
#[cfg(loom)]
pub const CHUNK: usize = 2;
#[cfg(loom)]
pub const MAX_CHUNKS: usize = 2;
/// Slots a table has at most.
pub const MAX_SLOTS: usize = CHUNK * MAX_CHUNKS;

pub struct FreeList {
    /// Released slots that may serve again.
    pub free: Vec<u32>,
    /// Slots below this index have been handed out at least once.
    pub next_unused: u32,
}

pub struct Slots<T> {
    chunks: [AtomicPtr<Slot<T>>; MAX_CHUNKS],
    pub free: ForkMutex<FreeList>,
    /// Slots handed out at once at most (MAX_SLOTS but in tests).
    capacity: usize,
}

impl<T> Slots<T> {
    #[cfg(not(loom))]
    pub const fn new(capacity: usize) -> Self {
        assert!(capacity <= MAX_SLOTS);
        Slots {
            chunks: [const { AtomicPtr::new(std::ptr::null_mut()) }; MAX_CHUNKS],
            free: ForkMutex::new(FreeList {
                free: Vec::new(),
                next_unused: 0,
            }),
            capacity,
        }
    }

    #[cfg(loom)]
    pub fn new(capacity: usize) -> Self {
        assert!(capacity <= MAX_SLOTS);
        Slots {
            chunks: std::array::from_fn(|_| AtomicPtr::new(std::ptr::null_mut())),
            free: ForkMutex::new(FreeList {
                free: Vec::new(),
                next_unused: 0,
            }),
            capacity,
        }
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Slot `index`, if its chunk has been allocated (`index` < MAX_SLOTS).
    #[inline]
    pub fn get(&self, index: usize) -> Option<&Slot<T>> {
        let chunk = self.chunks[index / CHUNK].load(Ordering::Acquire);
        if chunk.is_null() {
            return None;
        }
        // SAFETY: chunks are allocated once, CHUNK slots each, and freed
        // only with the table.
        Some(unsafe { &*chunk.add(index % CHUNK) })
    }

    /// Takes a slot off the free list, or a never-used one (allocating its
    /// chunk); None when `capacity` slots are out.
    pub fn free_slot(&self, free: &mut FreeList) -> Option<usize> {
        if let Some(index) = free.free.pop() {
            return Some(index as usize);
        }
        let i = free.next_unused as usize;
        if i >= self.capacity {
            return None;
        }
        if i % CHUNK == 0 {
            let chunk: Box<[Slot<T>]> = (0..CHUNK).map(|_| Slot::new()).collect();
            let ptr = Box::into_raw(chunk) as *mut Slot<T>;
            // Release: a lookup that sees the chunk sees its slots made.
            self.chunks[i / CHUNK].store(ptr, Ordering::Release);
        }
        free.next_unused += 1;
        Some(i)
    }
}

impl<T> Drop for Slots<T> {
    /// Only tables made per loom model run (and tests) are dropped: the
    /// library's are statics.
    fn drop(&mut self) {
        for chunk in &self.chunks {
            let ptr = chunk.load(Ordering::Acquire);
            if !ptr.is_null() {
                // SAFETY: made by Box::into_raw of CHUNK slots in `free_slot`;
                // &mut self: no one looks it up any more.
                drop(unsafe { Box::from_raw(std::ptr::slice_from_raw_parts_mut(ptr, CHUNK)) });
            }
        }
    }
}
