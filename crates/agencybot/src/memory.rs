//! Giving memory back after a burst of turns.
//!
//! glibc keeps what a burst freed in its arenas for reuse, so a process
//! that answered a thousand people at once stays at that size for good.
//! Once the burst is over (no turn running, none ended for a while, so
//! the connections it opened have closed too) the allocator is asked to
//! return its free pages.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agencybot_agent::Engine;
use tokio::sync::watch;

/// How long no turn may have run before memory is trimmed: longer than it
/// takes the burst's idle model connections to close (idle for 5 s, and
/// closed by a sweep that runs every 5 s) and its conversations' workers
/// to stop, so what they held is free by then.
const QUIET: Duration = Duration::from_secs(12);
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Trims once after each burst, until `stopped`.
pub async fn trim_after_bursts(engine: Arc<Engine>, mut stopped: watch::Receiver<bool>) {
    let mut bursts = BurstWatch::new(engine.activity().0, Instant::now());
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let (ended, running) = engine.activity();
        if bursts.is_over(ended, running, Instant::now()) {
            let released = release_free_memory();
            tracing::debug!(released, "returned free memory after a burst");
        }
    }
}

/// Tells, from the engine's activity, when a burst has just ended: once
/// per burst, after [`QUIET`] without a turn.
struct BurstWatch {
    ended: u64,
    quiet_since: Instant,
    told: bool,
}

impl BurstWatch {
    fn new(ended: u64, now: Instant) -> BurstWatch {
        // Nothing has run yet: there is nothing to give back.
        BurstWatch {
            ended,
            quiet_since: now,
            told: true,
        }
    }

    fn is_over(&mut self, ended: u64, running: bool, now: Instant) -> bool {
        if ended != self.ended || running {
            self.ended = ended;
            self.quiet_since = now;
            self.told = false;
            return false;
        }
        if self.told || now.duration_since(self.quiet_since) < QUIET {
            return false;
        }
        self.told = true;
        true
    }
}

/// Asks the allocator to return its free pages; whether it returned any.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[expect(unsafe_code, reason = "glibc's malloc_trim, which takes no pointers")]
fn release_free_memory() -> bool {
    unsafe extern "C" {
        // glibc serializes it with every other allocator call.
        safe fn malloc_trim(pad: usize) -> std::ffi::c_int;
    }
    malloc_trim(0) == 1
}

/// Other allocators (musl, macOS, Windows) return memory themselves.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn release_free_memory() -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_over_once_after_a_quiet_spell() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut bursts = BurstWatch::new(0, start);
        assert!(!bursts.is_over(0, false, at(60)), "nothing ran yet");
        // A burst: turns run, then end.
        assert!(!bursts.is_over(0, true, at(61)));
        assert!(!bursts.is_over(40, true, at(63)));
        assert!(!bursts.is_over(100, false, at(65)));
        assert!(
            !bursts.is_over(100, false, at(76)),
            "not quiet for long enough"
        );
        assert!(bursts.is_over(100, false, at(77)));
        assert!(!bursts.is_over(100, false, at(90)), "told once");
        // One turn more starts the wait again.
        assert!(!bursts.is_over(101, false, at(91)));
        assert!(!bursts.is_over(101, true, at(95)), "a turn running now");
        assert!(!bursts.is_over(101, false, at(106)));
        assert!(bursts.is_over(101, false, at(107)));
    }

    #[test]
    fn releasing_free_memory_does_not_disturb_what_is_in_use() {
        let kept: Vec<Vec<u8>> = (0..64).map(|n| vec![n; 64 * 1024]).collect();
        drop((0..256).map(|_| vec![0_u8; 64 * 1024]).collect::<Vec<_>>());
        let _ = release_free_memory();
        assert!(
            kept.iter()
                .enumerate()
                .all(|(n, block)| block.iter().all(|&b| usize::from(b) == n))
        );
    }
}
