//! loom models of a handle-table slot's state machine (src/slot.rs): insert,
//! take and release racing shared, exclusive and pinning users, the tag read
//! as a sequence lock while the slot is reused, and the counters' limits.
//! loom checks every access to the slot's value and action cells against
//! the others, so an object read after (or while) it is released, or an
//! action called after its handle is gone, fails the model.
//! The table's slots and free list (src/slot_table.rs, chunks of 2 under
//! loom) are modelled too: a lookup racing a chunk's allocation, and
//! threads handing slots out and back. Not modelled: the per-thread caches
//! of free slots (src/ffi/handle.rs), thread-locals of 'static tables that
//! move slot numbers to and from the free list under its mutex.
//! Run: scripts/loom.sh (RUSTFLAGS="--cfg loom" cargo test --release --test loom_handles).

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use sqlpool::slot::{Action, Refusal, Slot, PINS, READER, READERS};
use sqlpool::slot_table::{Slots, CHUNK, MAX_SLOTS};

/// A slot holding `value`, live with generation 0.
fn live_slot(value: u32, tag: u64) -> Arc<Slot<u32>> {
    let slot = Arc::new(Slot::new());
    // SAFETY: a new slot, owned by this thread.
    let generation = unsafe { slot.fill(value, None, tag) };
    assert_eq!(generation, 0);
    slot
}

/// What a handle-table `take` does: retire in one step, empty the slot.
fn take(slot: &Slot<u32>, generation: u32) -> Option<u32> {
    let reusable = slot.try_take(generation)?;
    assert!(reusable);
    // SAFETY: just retired by this thread, not reused yet.
    Some(unsafe { slot.empty() })
}

/// Reads the object as a shared user would, if the handle is accepted.
fn shared_read(slot: &Slot<u32>, generation: u32) -> Result<u32, Refusal> {
    slot.try_shared(generation)?;
    // SAFETY: a shared user; EXCLUSIVE was clear.
    let value = unsafe { *slot.value() };
    slot.release_shared_user();
    Ok(value)
}

#[test]
fn a_shared_user_racing_insert_sees_the_new_object_or_nothing() {
    loom::model(|| {
        let slot: Arc<Slot<u32>> = Arc::new(Slot::new());
        let user = {
            let slot = slot.clone();
            thread::spawn(move || match shared_read(&slot, 0) {
                Ok(value) => assert_eq!(value, 7),
                Err(refusal) => assert_eq!(refusal, Refusal::Invalid, "not handed out yet"),
            })
        };
        // SAFETY: a new slot, owned by this thread.
        assert_eq!(unsafe { slot.fill(7, None, 0) }, 0);
        user.join().unwrap();
        assert_eq!(take(&slot, 0), Some(7));
    });
}

#[test]
fn take_racing_a_shared_user_never_pulls_the_object_from_under_it() {
    loom::model(|| {
        let slot = live_slot(7, 0);
        let user = {
            let slot = slot.clone();
            thread::spawn(move || match shared_read(&slot, 0) {
                Ok(value) => assert_eq!(value, 7),
                Err(refusal) => assert_eq!(refusal, Refusal::Released),
            })
        };
        // Refused while the user is inside its call: retry, as a C caller would.
        let taken = loop {
            match take(&slot, 0) {
                Some(value) => break value,
                None => thread::yield_now(),
            }
        };
        assert_eq!(taken, 7);
        // The slot is reused at once (as a thread's cache of free slots does).
        // SAFETY: retired and emptied by this thread.
        assert_eq!(unsafe { slot.fill(8, None, 0) }, 1);
        user.join().unwrap();
        assert_eq!(shared_read(&slot, 0), Err(Refusal::Released));
        assert_eq!(shared_read(&slot, 1), Ok(8));
    });
}

#[test]
fn release_shared_waits_for_users_inside_and_turns_new_ones_away() {
    loom::model(|| {
        let slot = live_slot(7, 0);
        let user = {
            let slot = slot.clone();
            thread::spawn(move || match shared_read(&slot, 0) {
                Ok(value) => assert_eq!(value, 7),
                Err(refusal) => assert!(matches!(refusal, Refusal::Busy | Refusal::Released), "{refusal:?}"),
            })
        };
        let rival = {
            let slot = slot.clone();
            thread::spawn(move || slot.try_begin_release(0))
        };
        let mine = slot.try_begin_release(0);
        let theirs = rival.join().unwrap();
        // Exactly one releaser wins; the other is refused.
        assert!(mine.is_ok() != theirs.is_ok(), "{mine:?} {theirs:?}");
        let refused = if mine.is_ok() { theirs } else { mine };
        assert!(matches!(refused, Err(Refusal::Busy | Refusal::Released)), "{refused:?}");
        assert!(slot.retire_exclusive(0, thread::yield_now));
        // SAFETY: retired by this thread (on behalf of the winner, whose
        // EXCLUSIVE bit it is), not reused.
        assert_eq!(unsafe { slot.empty() }, 7);
        user.join().unwrap();
    });
}

/// `is_open` (the C API's check of a pool handle it holds the pool of by
/// other means): open while shared users come and go, never once a release
/// has begun (seen through the releaser's flag), nor for a stale generation.
#[test]
fn is_open_says_closed_from_the_start_of_a_release_and_open_beside_shared_users() {
    loom::model(|| {
        let slot = live_slot(3, 0);
        let began = Arc::new(loom::sync::atomic::AtomicBool::new(false));
        let user = {
            let slot = slot.clone();
            thread::spawn(move || {
                let _ = shared_read(&slot, 0);
            })
        };
        let closer = {
            let (slot, began) = (slot.clone(), began.clone());
            thread::spawn(move || {
                slot.try_begin_release(0).unwrap();
                began.store(true, loom::sync::atomic::Ordering::Release);
                assert!(slot.retire_exclusive(0, thread::yield_now));
                // SAFETY: retired by this thread, not reused.
                assert_eq!(unsafe { slot.empty() }, 3);
            })
        };
        if began.load(loom::sync::atomic::Ordering::Acquire) {
            assert!(!slot.is_open(0), "a release under way is not open");
        }
        closer.join().unwrap();
        user.join().unwrap();
        assert!(!slot.is_open(0), "released");
        assert!(!slot.is_open(1), "the next generation was never handed out");
    });
}

#[test]
fn an_exclusive_user_and_a_shared_user_never_overlap() {
    loom::model(|| {
        let slot = live_slot(0, 0);
        let writer = {
            let slot = slot.clone();
            thread::spawn(move || match slot.try_exclusive(0) {
                Ok(()) => {
                    // SAFETY: held exclusively.
                    unsafe { *slot.value_mut() += 1 };
                    slot.release_exclusive();
                    true
                }
                Err(refusal) => {
                    assert_eq!(refusal, Refusal::Busy);
                    false
                }
            })
        };
        let read = shared_read(&slot, 0);
        let wrote = writer.join().unwrap();
        match read {
            Ok(value) => assert!(value <= 1),
            Err(refusal) => {
                assert_eq!(refusal, Refusal::Busy);
                assert!(wrote, "refused only while the writer held it");
            }
        }
        // Both done: the handle is idle again, with the writer's change.
        assert_eq!(take(&slot, 0), Some(u32::from(wrote)));
    });
}

#[test]
fn two_exclusive_users_exclude_each_other() {
    loom::model(|| {
        let slot = live_slot(0, 0);
        let bump = |slot: Arc<Slot<u32>>| {
            move || match slot.try_exclusive(0) {
                Ok(()) => {
                    // SAFETY: held exclusively.
                    unsafe { *slot.value_mut() += 1 };
                    slot.release_exclusive();
                    1
                }
                Err(refusal) => {
                    assert_eq!(refusal, Refusal::Busy);
                    0
                }
            }
        };
        let other = thread::spawn(bump(slot.clone()));
        let done = bump(slot.clone())() + other.join().unwrap();
        assert!(done >= 1, "one of them got it");
        assert_eq!(take(&slot, 0), Some(done));
    });
}

static ACTION_RUNS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_run() {
    ACTION_RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
}

#[test]
fn an_action_runs_beside_an_exclusive_user_and_never_after_release() {
    static ACTION: fn() = count_run;
    loom::model(|| {
        let action: Action = &ACTION as &(dyn Fn() + Send + Sync);
        let slot: Arc<Slot<u32>> = Arc::new(Slot::new());
        // SAFETY: owned by this thread; the action is 'static.
        unsafe { slot.fill(7, Some(action), 0) };
        struct SendAction(Action);
        // SAFETY: the action is a 'static Fn + Send + Sync.
        unsafe impl Send for SendAction {}
        let interrupter = {
            let slot = slot.clone();
            let expected = SendAction(action);
            thread::spawn(move || {
                let expected = expected;
                if slot.pin(0).is_ok() {
                    // SAFETY: pinned.
                    let found = unsafe { slot.action() }.expect("a live slot keeps its action");
                    assert!(std::ptr::addr_eq(found, expected.0));
                    // SAFETY: the action is 'static.
                    unsafe { (*found)() };
                    slot.unpin();
                }
            })
        };
        slot.try_exclusive(0).unwrap();
        // Waits for the pin, if any (pins last a few instructions).
        assert!(slot.retire_exclusive(0, thread::yield_now));
        // SAFETY: retired by this thread.
        assert_eq!(unsafe { slot.empty() }, 7);
        interrupter.join().unwrap();
        assert_eq!(slot.pin(0), Err(Refusal::Released));
    });
}

#[test]
fn a_stale_handle_is_never_accepted_after_release_even_when_the_slot_is_reused() {
    loom::model(|| {
        let slot = live_slot(7, 0);
        let stale_user = {
            let slot = slot.clone();
            thread::spawn(move || match slot.try_exclusive(0) {
                Ok(()) => {
                    // SAFETY: held exclusively.
                    assert_eq!(unsafe { *slot.value() }, 7, "generation 0's object");
                    slot.release_exclusive();
                }
                Err(refusal) => assert!(matches!(refusal, Refusal::Busy | Refusal::Released), "{refusal:?}"),
            })
        };
        let taken = loop {
            match take(&slot, 0) {
                Some(value) => break value,
                None => thread::yield_now(),
            }
        };
        assert_eq!(taken, 7);
        // SAFETY: retired and emptied by this thread.
        assert_eq!(unsafe { slot.fill(8, None, 0) }, 1);
        stale_user.join().unwrap();
        assert_eq!(slot.try_exclusive(0), Err(Refusal::Released));
        assert_eq!(slot.try_take(0), None);
        assert_eq!(take(&slot, 1), Some(8));
        assert_eq!(slot.try_exclusive(1), Err(Refusal::Released));
    });
}

#[test]
fn a_tag_read_while_the_slot_is_reused_is_never_the_next_handles() {
    loom::model(|| {
        let slot = live_slot(7, 41);
        let reader = {
            let slot = slot.clone();
            thread::spawn(move || match slot.tag(0) {
                Ok(tag) => assert_eq!(tag, 41, "a later handle's tag read for generation 0"),
                Err(refusal) => assert_eq!(refusal, Refusal::Released),
            })
        };
        assert_eq!(take(&slot, 0), Some(7));
        // SAFETY: retired and emptied by this thread.
        assert_eq!(unsafe { slot.fill(8, None, 42) }, 1);
        reader.join().unwrap();
        assert_eq!(slot.tag(1), Ok(42));
    });
}

#[test]
fn the_last_shared_user_the_counter_holds_is_let_in_and_the_next_refused() {
    loom::model(|| {
        let slot = live_slot(7, 0);
        slot.add_users_for_test(READERS / READER - 1, 0);
        let other = {
            let slot = slot.clone();
            thread::spawn(move || slot.try_shared(0))
        };
        let mine = slot.try_shared(0);
        let theirs = other.join().unwrap();
        assert!(mine.is_ok() != theirs.is_ok(), "{mine:?} {theirs:?}");
        let refused = if mine.is_ok() { theirs } else { mine };
        assert_eq!(refused, Err(Refusal::TooManyUsers));
        assert_eq!(slot.try_exclusive(0), Err(Refusal::Busy), "no overflow into EXCLUSIVE");
        // The winner leaves; the others (made up) are still inside.
        slot.release_shared_user();
        assert_eq!(slot.try_take(0), None);
    });
}

#[test]
fn the_last_pin_the_counter_holds_is_let_in_and_the_next_refused() {
    loom::model(|| {
        let slot = live_slot(7, 0);
        slot.add_users_for_test(0, PINS - 1);
        let other = {
            let slot = slot.clone();
            thread::spawn(move || slot.pin(0))
        };
        let mine = slot.pin(0);
        let theirs = other.join().unwrap();
        assert!(mine.is_ok() != theirs.is_ok(), "{mine:?} {theirs:?}");
        let refused = if mine.is_ok() { theirs } else { mine };
        assert_eq!(refused, Err(Refusal::TooManyUsers));
        // Pins do not spill into the shared users: one is still let in.
        assert_eq!(shared_read(&slot, 0), Ok(7));
        slot.unpin();
        assert_eq!(slot.try_take(0), None);
    });
}

#[test]
fn a_lookup_racing_a_chunks_allocation_finds_no_slot_or_a_made_one() {
    loom::model(|| {
        let table: Arc<Slots<u32>> = Arc::new(Slots::new(MAX_SLOTS));
        {
            let mut free = table.free.lock();
            for expected in 0..CHUNK {
                assert_eq!(table.free_slot(&mut free), Some(expected));
            }
        }
        // A handle guessed for the first slot of the next chunk.
        let looker = {
            let table = table.clone();
            thread::spawn(move || match table.get(CHUNK) {
                None => Err(Refusal::Invalid),
                Some(slot) => shared_read(slot, 0),
            })
        };
        let index = table.free_slot(&mut table.free.lock()).unwrap();
        assert_eq!(index, CHUNK, "the next chunk's first slot");
        let slot = table.get(index).unwrap();
        // SAFETY: just handed out to this thread.
        assert_eq!(unsafe { slot.fill(9, None, 0) }, 0);
        match looker.join().unwrap() {
            Ok(value) => assert_eq!(value, 9),
            Err(refusal) => assert_eq!(refusal, Refusal::Invalid),
        }
    });
}

#[test]
fn threads_handing_slots_out_and_back_never_share_one() {
    loom::model(|| {
        let table: Arc<Slots<u32>> = Arc::new(Slots::new(2));
        let use_a_slot = |table: Arc<Slots<u32>>, value: u32| {
            move || {
                let index = table.free_slot(&mut table.free.lock()).expect("two slots, two threads");
                let slot = table.get(index).unwrap();
                // SAFETY: handed out to this thread alone.
                let generation = unsafe { slot.fill(value, None, 0) };
                assert_eq!(take(slot, generation), Some(value));
                table.free.lock().free.push(index as u32);
            }
        };
        let other = thread::spawn(use_a_slot(table.clone(), 1));
        use_a_slot(table.clone(), 2)();
        other.join().unwrap();
        let mut free = table.free.lock();
        let mut back = free.free.clone();
        back.sort_unstable();
        assert!(back.len() == free.next_unused as usize, "every slot used is free again");
        back.dedup();
        assert_eq!(back.len(), free.next_unused as usize, "no slot is free twice");
        // The table is full only with both slots out.
        let a = table.free_slot(&mut free);
        let b = table.free_slot(&mut free);
        assert!(a.is_some() && b.is_some() && a != b);
        assert_eq!(table.free_slot(&mut free), None);
    });
}
