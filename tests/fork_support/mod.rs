//! Forking from a test with a watchdog: a child that does not exit within
//! CHILD_DEADLINE is killed and reported as hung, so a fork bug fails the
//! test instead of hanging it.
#![allow(dead_code)]

use std::time::{Duration, Instant};

pub const CHILD_DEADLINE: Duration = Duration::from_secs(20);

/// How a forked child ended.
#[derive(Debug, PartialEq, Eq)]
pub enum ChildEnd {
    Exited(i32),
    Signaled(i32),
    Hung,
}

/// Forks; the child runs `child` and `_exit`s with its code (a panic is
/// code 101). Returns the child's pid in the parent.
pub fn fork_child(child: impl FnOnce() -> i32) -> libc::pid_t {
    // SAFETY: the child runs only `child` and then _exit.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed: {}", std::io::Error::last_os_error());
    if pid == 0 {
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(child)).unwrap_or(101);
        // SAFETY: leaves the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    pid
}

/// Waits for `pid` up to CHILD_DEADLINE, then kills it.
pub fn wait_child(pid: libc::pid_t) -> ChildEnd {
    let started = Instant::now();
    loop {
        let mut status = 0;
        // SAFETY: pid is our child; status is a local.
        let r = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
        if r == pid {
            return if libc::WIFEXITED(status) {
                ChildEnd::Exited(libc::WEXITSTATUS(status))
            } else {
                ChildEnd::Signaled(libc::WTERMSIG(status))
            };
        }
        if started.elapsed() > CHILD_DEADLINE {
            // SAFETY: killing and reaping our own child.
            unsafe {
                libc::kill(pid, libc::SIGKILL);
                libc::waitpid(pid, &mut status, 0);
            }
            return ChildEnd::Hung;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Forks `forks` times, one child at a time, each running `child`; returns
/// a line per child that did not exit 0 (stopping at the first hung one:
/// the next would most likely hang as long).
pub fn fork_children(forks: usize, child: impl Fn() -> i32) -> Vec<String> {
    let mut failures = Vec::new();
    for i in 0..forks {
        match wait_child(fork_child(&child)) {
            ChildEnd::Exited(0) => {}
            ChildEnd::Hung => {
                failures.push(format!("fork {i}: child hung"));
                break;
            }
            other => failures.push(format!("fork {i}: {other:?}")),
        }
    }
    failures
}
