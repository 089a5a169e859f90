//! Issue 11 §4: thousands of pools in one process. Prints times, asserts
//! none (the machine is noisy); run by hand:
//! `cargo test --release --test many_pools -- --ignored --nocapture --test-threads=1`
//! (one test per process: `... many_pools open_pools`, `... open_shared`,
//! `... open_shared_with_a_budget`, or `... raw_connections`, the floor:
//! SQLite connections without a pool).
//! Files are spread over directories of 100, so that the times are not the
//! file system's lookups in one huge directory.

mod common;

use common::TempDir;
use sqlpool::{shared, Options, Pool};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const POOLS: usize = 10_000;
const BATCH: usize = 1_000;

/// CPU time (user + system) of this process's thread named `name`, from
/// /proc/self/task/<tid>/stat.
fn thread_cpu(name: &str) -> Option<Duration> {
    let ticks_per_s = 100.0; // USER_HZ on Linux
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let dir = task.ok()?.path();
        let comm = std::fs::read_to_string(dir.join("comm")).ok()?;
        if comm.trim_end() != name {
            continue;
        }
        let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
        // Fields after the ")" that ends the command name: state is field 3,
        // utime field 14, stime field 15.
        let rest = &stat[stat.rfind(')')? + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        let utime: f64 = fields[11].parse().ok()?;
        let stime: f64 = fields[12].parse().ok()?;
        return Some(Duration::from_secs_f64((utime + stime) / ticks_per_s));
    }
    None
}

/// `POOLS` empty database files (an empty file is an empty database).
fn make_files(dir: &TempDir) -> Vec<String> {
    (0..POOLS)
        .map(|i| {
            let sub = dir.path(&format!("{}", i / 100));
            std::fs::create_dir_all(&sub).unwrap();
            let p = sub.join(format!("{i}.db"));
            std::fs::write(&p, b"").unwrap();
            p.to_str().unwrap().to_owned()
        })
        .collect()
}

/// Opens one `T` per file, printing the time of each batch of `BATCH`.
fn open_all<T>(tag: &str, paths: &[String], open: impl Fn(&str) -> T) -> Vec<T> {
    let mut opened = Vec::with_capacity(paths.len());
    for (batch, chunk) in paths.chunks(BATCH).enumerate() {
        let start = Instant::now();
        for p in chunk {
            opened.push(open(p));
        }
        let first = batch * BATCH + 1;
        println!(
            "{tag}: pools {first:>5}..{:>5} opened in {:>7.1} ms ({:.1} µs each)",
            first + chunk.len() - 1,
            start.elapsed().as_secs_f64() * 1e3,
            start.elapsed().as_secs_f64() * 1e6 / chunk.len() as f64
        );
    }
    opened
}

/// The parent's minor page faults in its last fork() (copy-on-write:
/// memory written in the parent while the child still shares it).
static FORK_FAULTS: AtomicU64 = AtomicU64::new(0);

fn minor_faults() -> u64 {
    // SAFETY: usage is a local rusage, written by the call.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) };
    usage.ru_minflt as u64
}

/// The parent's time in fork() (the prepare and parent handlers included).
fn fork_time() -> Duration {
    let faults_before = minor_faults();
    let start = Instant::now();
    // SAFETY: the child only calls _exit, async-signal-safe.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: ends the child at once, without running anything else.
        unsafe { libc::_exit(0) };
    }
    let took = start.elapsed();
    FORK_FAULTS.store(minor_faults() - faults_before, Relaxed);
    assert!(pid > 0, "fork failed");
    let mut status = 0;
    // SAFETY: pid is our child; status is a local.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    took
}

/// CLOCK_MONOTONIC in ns, from a fork prepare handler.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: ts is a local timespec.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

static PREPARE_STARTED: AtomicU64 = AtomicU64::new(0);
static PREPARE_ENDED: AtomicU64 = AtomicU64::new(0);
static PARENT_STARTED: AtomicU64 = AtomicU64::new(0);
static PARENT_ENDED: AtomicU64 = AtomicU64::new(0);

extern "C" fn before_sqlpool_prepare() {
    PREPARE_STARTED.store(monotonic_ns(), Relaxed);
}

extern "C" fn after_sqlpool_prepare() {
    PREPARE_ENDED.store(monotonic_ns(), Relaxed);
}

extern "C" fn before_sqlpool_parent() {
    PARENT_STARTED.store(monotonic_ns(), Relaxed);
}

extern "C" fn after_sqlpool_parent() {
    PARENT_ENDED.store(monotonic_ns(), Relaxed);
}

/// Registers fork handlers around sqlpool's: prepare handlers run in the
/// reverse order of registration and parent handlers in order, so the ones
/// registered before sqlpool's (`first`: before any pool) and after them
/// (`first` false: once pools exist) bracket sqlpool's. Needs a process of
/// its own (one test per process, as the header says).
fn time_sqlpool_handlers(first: bool) {
    let (prepare, parent): (extern "C" fn(), extern "C" fn()) = if first {
        (after_sqlpool_prepare, before_sqlpool_parent)
    } else {
        (before_sqlpool_prepare, after_sqlpool_parent)
    };
    // SAFETY: registers plain functions that store a number.
    assert_eq!(unsafe { libc::pthread_atfork(Some(prepare), Some(parent), None) }, 0);
}

fn span(start: &AtomicU64, end: &AtomicU64) -> Option<Duration> {
    let (start, end) = (start.load(Relaxed), end.load(Relaxed));
    (start != 0 && end >= start).then(|| Duration::from_nanos(end - start))
}

fn print_best_worst(tag: &str, what: &str, times: &[Duration]) {
    if let (Some(best), Some(worst)) = (times.iter().min(), times.iter().max()) {
        println!(
            "{tag}: sqlpool's fork {what} handler with {POOLS} files open: {:.3} ms (best of 5; worst {:.3} ms)",
            best.as_secs_f64() * 1e3,
            worst.as_secs_f64() * 1e3
        );
    }
}

fn print_fork_time(tag: &str) {
    let (mut prepares, mut parents) = (Vec::new(), Vec::new());
    let mut faults = Vec::new();
    let forks: Vec<Duration> = (0..5)
        .map(|_| {
            let took = fork_time();
            faults.push(FORK_FAULTS.load(Relaxed));
            prepares.extend(span(&PREPARE_STARTED, &PREPARE_ENDED));
            parents.extend(span(&PARENT_STARTED, &PARENT_ENDED));
            took
        })
        .collect();
    print_best_worst(tag, "prepare", &prepares);
    print_best_worst(tag, "parent", &parents);
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let rss = status.lines().find(|l| l.starts_with("VmRSS")).unwrap_or("VmRSS: ?");
    println!(
        "{tag}: fork() with {POOLS} files open: {:.3} ms (best of 5; {} minor page faults in the parent; {})",
        forks.iter().min().unwrap().as_secs_f64() * 1e3,
        faults.iter().min().unwrap(),
        rss.split_whitespace().skip(1).collect::<Vec<_>>().join(" ")
    );
}

fn run(tag: &str, open: impl Fn(&str) -> Pool) -> Vec<Pool> {
    time_sqlpool_handlers(true);
    let dir = TempDir::new(tag);
    let paths = make_files(&dir);
    let pools = open_all(tag, &paths, open);
    time_sqlpool_handlers(false);
    print_fork_time(tag);
    // Every pool used once, then all idle.
    for pool in &pools {
        drop(pool.checkout().unwrap());
    }
    std::thread::sleep(Duration::from_millis(500));
    let idle_for = Duration::from_secs(10);
    let before = thread_cpu("sqlpool-monitor").expect("the monitor thread runs");
    std::thread::sleep(idle_for);
    let after = thread_cpu("sqlpool-monitor").unwrap();
    println!(
        "{tag}: monitor thread CPU over {} s idle with {POOLS} pools: {} ms ({:.2} % of a core)",
        idle_for.as_secs(),
        (after - before).as_millis(),
        (after - before).as_secs_f64() * 100.0 / idle_for.as_secs_f64()
    );
    drop(dir);
    pools
}

#[test]
#[ignore = "prints times; run by hand (see the file's header)"]
fn raw_connections() {
    let dir = TempDir::new("many-raw");
    let paths = make_files(&dir);
    let conns = open_all("many-raw", &paths, |p| rusqlite::Connection::open(p).unwrap());
    print_fork_time("many-raw");
    drop(conns);
}

#[test]
#[ignore = "prints times; run by hand (see the file's header)"]
fn open_pools() {
    let pools = run("many-pools", |p| Pool::open(p, Options::default()).unwrap());
    for pool in pools {
        pool.close().unwrap();
    }
}

#[test]
#[ignore = "prints times; run by hand (see the file's header)"]
fn open_shared() {
    let pools = run("many-shared", |p| shared::open_shared(p, &Options::default()).unwrap());
    for pool in pools {
        shared::release(&pool).unwrap();
    }
}

#[test]
#[ignore = "prints times; run by hand (see the file's header)"]
fn open_shared_with_a_budget() {
    // 64 connections for 10,000 files: each open closes another pool's idle one.
    shared::set_limits(64, None);
    let pools = run("many-shared-budget", |p| {
        shared::open_shared(p, &Options::default()).unwrap()
    });
    for pool in pools {
        shared::release(&pool).unwrap();
    }
    shared::set_limits(0, None);
}
