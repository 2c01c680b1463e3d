//! Giving memory back once startup is over and after each burst of turns.
//!
//! Two things keep a quiet process at the size of its busiest moment:
//! - glibc keeps what a burst freed in its arenas for reuse, so a process
//!   that answered a thousand people at once would stay at that size;
//! - the binary's code is mapped from its file 64 KB around each page that
//!   runs, so the code that startup ran once (config, migrations, every
//!   channel's connect) and that a burst touched across a 48 MB `.text`
//!   stays counted in RSS.
//!
//! Once startup or a burst is over (no turn running, none ended for a
//! while, so the connections it opened to the model have closed too) the
//! store's idle connections but one are closed, the allocator is asked to
//! return its free pages, and the binary's pages that are an unchanged copy
//! of its file are unmapped. They stay in the page cache:
//! the next turn maps what it runs again, a minor fault per 64 KB.

use std::sync::Arc;
use std::time::{Duration, Instant};

use agencybot_agent::Engine;
use agencybot_store::Store;
use tokio::sync::watch;

/// How long no turn may have run before memory is given back: longer than
/// it takes the burst's idle model connections to close (idle for 5 s,
/// and closed by a sweep that runs every 5 s) and its conversations'
/// workers to stop, so what they held is free by then.
const QUIET: Duration = Duration::from_secs(12);
const CHECK_EVERY: Duration = Duration::from_secs(2);

/// Gives memory back once after startup and once after each burst, until
/// `stopped`.
pub async fn trim_after_bursts(
    engine: Arc<Engine>,
    store: Store,
    mut stopped: watch::Receiver<bool>,
) {
    let mut bursts = BurstWatch::new(engine.activity().0, Instant::now());
    loop {
        tokio::select! {
            _ = stopped.wait_for(|stopped| *stopped) => return,
            () = tokio::time::sleep(CHECK_EVERY) => {}
        }
        let (ended, running) = engine.activity();
        if bursts.is_over(ended, running, Instant::now()) {
            // First, so that what the connections held is freed too.
            let connections = store.close_idle_connections().await;
            let heap = release_free_memory();
            let code = release_code_pages();
            tracing::debug!(
                connections,
                heap,
                code_kib = code / 1024,
                "gave back idle connections, free memory and code pages after a quiet spell"
            );
        }
    }
}

/// Tells, from the engine's activity, when startup or a burst has just
/// ended: once each, after [`QUIET`] without a turn.
struct BurstWatch {
    ended: u64,
    quiet_since: Instant,
    told: bool,
}

impl BurstWatch {
    fn new(ended: u64, now: Instant) -> BurstWatch {
        // Startup is the first burst: what it ran and freed is given back
        // once it has been quiet.
        BurstWatch {
            ended,
            quiet_since: now,
            told: false,
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

/// Unmaps the binary's pages that are an unchanged copy of its file (its
/// code and read-only data); returns how many bytes were mapped.
///
/// Only the binary's own mappings: they are made at exec and never change,
/// whereas a library's may be in the middle of being loaded (mapped whole,
/// then overlaid and relocated) or unloaded while `smaps` is read.
#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "madvise over whole mappings of the binary that hold nothing but its file's content"
)]
fn release_code_pages() -> u64 {
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return 0;
    };
    // The binary is the file this very function is mapped from.
    let code = release_code_pages as fn() -> u64 as usize;
    let mut released = 0;
    for mapping in file_copies(&mappings(&smaps), code) {
        // SAFETY: the range is one whole private, read-only mapping of the
        // binary that holds no page of its own, in memory or in swap (no
        // relocated data), so dropping its pages loses nothing: the next
        // access reads the same bytes back from the file, most often from
        // the page cache. The binary's mappings are made at exec and last
        // as long as the process.
        let done = unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_DONTNEED,
            )
        };
        if done == 0 {
            released += mapping.rss_kib * 1024;
        }
    }
    released
}

#[cfg(not(target_os = "linux"))]
fn release_code_pages() -> u64 {
    0
}

/// One mapping of `/proc/self/smaps`.
#[derive(Debug)]
struct Mapping {
    start: usize,
    end: usize,
    writable: bool,
    shared: bool,
    /// The file's device (`major:minor`, as listed) and inode; inode 0 for
    /// memory of no file.
    device: String,
    inode: u64,
    rss_kib: u64,
    /// Pages written since they were mapped (relocations, for a binary),
    /// in memory and in swap.
    anonymous_kib: u64,
    swap_kib: u64,
}

fn mappings(smaps: &str) -> Vec<Mapping> {
    let mut mappings: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let Some(first) = fields.next() else { continue };
        if let Some((start, end)) = first.split_once('-')
            && let (Ok(start), Ok(end)) = (
                usize::from_str_radix(start, 16),
                usize::from_str_radix(end, 16),
            )
        {
            let perms = fields.next().unwrap_or_default();
            let _offset = fields.next();
            let device = fields.next().unwrap_or_default().to_owned();
            mappings.push(Mapping {
                start,
                end,
                writable: perms.contains('w'),
                shared: perms.contains('s'),
                device,
                inode: fields.next().and_then(|i| i.parse().ok()).unwrap_or(0),
                rss_kib: 0,
                // Unknown until read: counted as changed.
                anonymous_kib: u64::MAX,
                swap_kib: u64::MAX,
            });
            continue;
        }
        let Some(mapping) = mappings.last_mut() else {
            continue;
        };
        let kib = fields.next().and_then(|n| n.parse::<u64>().ok());
        match first {
            "Rss:" => mapping.rss_kib = kib.unwrap_or(0),
            "Anonymous:" => mapping.anonymous_kib = kib.unwrap_or(u64::MAX),
            "Swap:" => mapping.swap_kib = kib.unwrap_or(u64::MAX),
            _ => {}
        }
    }
    mappings
}

/// The mappings of the file that holds `address` that are private,
/// read-only and hold no page of their own, in memory or in swap. A page
/// the loader relocated is anonymous: its mapping is left alone, because
/// dropping it would bring back the file's unrelocated bytes.
fn file_copies(mappings: &[Mapping], address: usize) -> impl Iterator<Item = &Mapping> {
    let file = mappings
        .iter()
        .find(|m| (m.start..m.end).contains(&address) && m.inode != 0)
        .map(|m| (&m.device, m.inode));
    mappings.iter().filter(move |m| {
        file == Some((&m.device, m.inode))
            && !m.writable
            && !m.shared
            && m.anonymous_kib == 0
            && m.swap_kib == 0
            && m.end > m.start
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn startup_and_each_burst_are_over_once_after_a_quiet_spell() {
        let start = Instant::now();
        let at = |secs| start + Duration::from_secs(secs);
        let mut bursts = BurstWatch::new(0, start);
        assert!(!bursts.is_over(0, false, at(5)), "startup not quiet yet");
        assert!(bursts.is_over(0, false, at(12)), "startup is over");
        assert!(!bursts.is_over(0, false, at(60)), "told once");
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

    /// A PIE binary's mappings as the kernel lists them: headers and
    /// read-only data, code, relocated data (partly swapped out), a
    /// relocated page wholly in swap, writable data; then the heap, a
    /// library on another device with the same inode number, and a shared
    /// mapping of the binary.
    const SMAPS: &str = "\
55d0a0000000-55d0a1000000 r--p 00000000 fe:01 5311123                    /usr/bin/agencybot
Size:              16384 kB
Rss:                5236 kB
Anonymous:             0 kB
Swap:                  0 kB
VmFlags: rd mr mw me dw sd
55d0a1000000-55d0a4000000 r-xp 00f98000 fe:01 5311123                    /usr/bin/agencybot
Size:              49152 kB
Rss:               22400 kB
Anonymous:             0 kB
Swap:                  0 kB
55d0a4000000-55d0a4200000 r--p 03e8b000 fe:01 5311123                    /usr/bin/agencybot
Rss:                2600 kB
Anonymous:          2600 kB
Swap:                 40 kB
55d0a4200000-55d0a4201000 r--p 04117000 fe:01 5311123                    /usr/bin/agencybot
Rss:                   0 kB
Anonymous:             0 kB
Swap:                  4 kB
55d0a4201000-55d0a4210000 rw-p 04118000 fe:01 5311123                    /usr/bin/agencybot
Rss:                  40 kB
Anonymous:            40 kB
Swap:                  0 kB
55d0a5000000-55d0a6000000 rw-p 00000000 00:00 0                          [heap]
Rss:                3000 kB
Anonymous:          3000 kB
Swap:                  0 kB
7f0000000000-7f0000100000 r-xp 00000000 08:02 5311123                    /usr/lib/lib other.so
Rss:                 400 kB
Anonymous:             0 kB
Swap:                  0 kB
7f0000200000-7f0000300000 r--s 00000000 fe:01 5311123                    /usr/bin/agencybot
Rss:                 100 kB
Anonymous:             0 kB
Swap:                  0 kB
";

    /// An address in the binary's code, and one in the library's.
    const IN_CODE: usize = 0x55d0_a200_0000;
    const IN_LIBRARY: usize = 0x7f00_0000_1000;

    #[test]
    fn only_the_binarys_unchanged_private_mappings_are_released() {
        let mappings = mappings(SMAPS);
        assert_eq!(mappings.len(), 8);
        assert_eq!(mappings[1].start, 0x55d0_a100_0000);
        assert_eq!(mappings[1].end, 0x55d0_a400_0000);
        assert_eq!(
            (mappings[1].device.as_str(), mappings[1].inode),
            ("fe:01", 5_311_123)
        );
        assert_eq!((mappings[1].rss_kib, mappings[1].anonymous_kib), (22400, 0));
        assert_eq!(mappings[3].swap_kib, 4);
        let released: Vec<usize> = file_copies(&mappings, IN_CODE).map(|m| m.start).collect();
        // Not the relocated data (in memory or in swap), the writable data,
        // the heap, the other device's file nor a shared mapping.
        assert_eq!(released, [0x55d0_a000_0000, 0x55d0_a100_0000]);
        let library: Vec<usize> = file_copies(&mappings, IN_LIBRARY)
            .map(|m| m.start)
            .collect();
        assert_eq!(library, [0x7f00_0000_0000]);
        // An address in no file (the heap), or in no mapping.
        assert_eq!(file_copies(&mappings, 0x55d0_a500_1000).count(), 0);
        assert_eq!(file_copies(&mappings, 0x1000).count(), 0);
    }

    #[test]
    fn a_mapping_whose_pages_were_not_listed_counts_as_changed() {
        let listed = mappings(
            "55d0a1000000-55d0a4000000 r-xp 00f98000 fe:01 5311123 /usr/bin/agencybot\nRss: 10 kB\nAnonymous: 0 kB\n",
        );
        assert_eq!(listed[0].swap_kib, u64::MAX);
        assert_eq!(file_copies(&listed, IN_CODE).count(), 0);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn releasing_code_pages_leaves_the_program_running_as_before() {
        static TABLE: [u64; 4096] = {
            let mut table = [0; 4096];
            let mut n = 0;
            while n < table.len() {
                table[n] = (n as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15);
                n += 1;
            }
            table
        };
        let before: u64 = TABLE.iter().fold(0, |sum, n| sum.wrapping_add(*n));
        let text = format!("{before:x}");
        assert!(
            release_code_pages() > 0,
            "the test binary's code was mapped"
        );
        // Code and read-only data come back from the file as they were.
        assert_eq!(
            TABLE.iter().fold(0, |sum: u64, n| sum.wrapping_add(*n)),
            before
        );
        assert_eq!(format!("{before:x}"), text);
        assert!(release_code_pages() < 64 * 1024 * 1024);
    }
}
