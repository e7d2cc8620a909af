//! Memory figures read from `/proc/self/status`, without an instrumented allocator.
//!
//! A counting global allocator would slow down the very allocations being timed, so
//! the kernel's counters are used instead: `VmHWM`, the peak resident set size, and
//! `VmRSS`, the current one. Writing `5` to `/proc/self/clear_refs` resets the peak
//! to the current size (Linux 4.0 and later), so each phase gets a peak of its own
//! rather than the process's peak so far. Where that is not possible the figures
//! say so. Figures are in KiB, the kernel's unit, and only as fine as a page.

use std::fmt::Write as _;

/// The peak resident size during a phase, over the resident size before it.
#[derive(Clone, Copy, Debug)]
pub struct Peak {
    /// `None` when `/proc/self/status` could not be read (not Linux).
    increase_kib: Option<u64>,
    peak_kib: Option<u64>,
    /// Whether the peak was reset before the phase; if not, an earlier, higher
    /// peak may hide this phase's, and the increase is a lower bound.
    reset: bool,
}

impl Peak {
    pub fn describe(&self) -> String {
        let (Some(increase), Some(peak)) = (self.increase_kib, self.peak_kib) else {
            return "unavailable (no /proc/self/status)".to_string();
        };
        let mut out = format!("+{} (peak resident {})", mib(increase), mib(peak));
        if !self.reset {
            out.push_str(", a lower bound: the peak could not be reset");
        }
        out
    }
}

/// Runs `phase` and reports its peak resident size over the size before it.
pub fn peak_during<T>(phase: impl FnOnce() -> T) -> (T, Peak) {
    let reset = reset_peak();
    let before = if reset {
        status_kib("VmRSS")
    } else {
        status_kib("VmHWM")
    };
    let out = phase();
    let peak = status_kib("VmHWM");
    let increase = before
        .zip(peak)
        .map(|(before, peak)| peak.saturating_sub(before));
    (
        out,
        Peak {
            increase_kib: increase,
            peak_kib: peak,
            reset,
        },
    )
}

/// What one file's parse costs in memory.
#[derive(Debug)]
pub struct AstMemory {
    /// The peak while parsing it once, the tree kept.
    peak: Peak,
    /// The resident size one more parse result adds when kept, averaged over
    /// several copies so that memory freed by earlier parses and reused does not
    /// hide it.
    retained_kib: Option<f64>,
}

/// How many extra copies of the tree to keep when measuring its retained size.
const COPIES: usize = 16;

impl AstMemory {
    pub fn describe(&self, source_bytes: usize) -> String {
        let mut out = format!("peak {}", self.peak.describe());
        if let Some(retained) = self.retained_kib {
            let _ = write!(
                out,
                "; tree kept ≈ {} ({:.1}× the source)",
                mib_f(retained),
                retained * 1024.0 / source_bytes.max(1) as f64
            );
        }
        out
    }
}

/// Measures `parse(source)`: its peak, and its retained size from `COPIES` kept
/// results. Call it early, before other phases have grown and fragmented the heap.
pub fn largest_ast<T>(source: &str, parse: impl Fn(&str) -> T) -> AstMemory {
    let (first, peak) = peak_during(|| parse(source));
    let before = status_kib("VmRSS");
    let copies: Vec<T> = (0..COPIES).map(|_| parse(source)).collect();
    let after = status_kib("VmRSS");
    drop(copies);
    drop(first);
    let retained_kib = before
        .zip(after)
        .map(|(before, after)| after.saturating_sub(before) as f64 / COPIES as f64);
    AstMemory { peak, retained_kib }
}

/// Calls `call` `calls` times and returns how much the resident size grew, per
/// call, in KiB. Memory a call frees comes back to the allocator and is reused by
/// the next, so anything well above zero is memory that is never freed: a leak.
pub fn growth_per_call(calls: usize, mut call: impl FnMut()) -> Option<f64> {
    let before = status_kib("VmRSS")?;
    for _ in 0..calls {
        call();
    }
    let after = status_kib("VmRSS")?;
    Some(after.saturating_sub(before) as f64 / calls.max(1) as f64)
}

/// Resets `VmHWM` to the current resident size; false where the kernel refuses.
fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// A `kB` field of `/proc/self/status`, such as `VmHWM`.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status.lines().find_map(|line| {
        let rest = line.strip_prefix(field)?.strip_prefix(':')?;
        rest.trim().strip_suffix("kB")?.trim().parse().ok()
    })
}

fn mib(kib: u64) -> String {
    mib_f(kib as f64)
}

fn mib_f(kib: f64) -> String {
    if kib < 1024.0 {
        format!("{kib:.0} KiB")
    } else {
        format!("{:.1} MiB", kib / 1024.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_fields_parse_on_linux() {
        if cfg!(target_os = "linux") {
            assert!(status_kib("VmRSS").is_some_and(|kib| kib > 0));
            assert!(status_kib("VmHWM").is_some_and(|kib| kib > 0));
            assert!(status_kib("NoSuchField").is_none());
        }
    }

    #[test]
    fn a_kept_allocation_shows_in_the_peak() {
        if cfg!(target_os = "linux") {
            let (kept, peak) = peak_during(|| vec![1u8; 64 << 20]);
            assert_eq!(kept.len(), 64 << 20);
            // Pages count once touched; vec! of a non-zero byte touches them all.
            assert!(peak.increase_kib.is_some_and(|kib| kib >= 60 << 10));
        }
    }
}
