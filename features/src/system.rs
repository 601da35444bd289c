//! Facts about the running process that benchmarks report, and the allocator's settings that
//! ferrofold's binaries share.

/// mimalloc's `mi_option_purge_delay` (mimalloc.h's `mi_option_e`).
const MIMALLOC_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Tells mimalloc (the allocator of ferrofold's binaries, which each call this first) to keep the
/// memory it frees for the next allocations instead of returning it to the kernel 10 ms later:
/// the network frees and makes tensors of the same sizes block after block, and every returned
/// page is faulted back in and zeroed (a training step took 1.7× as long; bench/RESULTS.md). The
/// process keeps its peak, which the memory estimate plans for anyway.
pub fn keep_freed_memory() {
    // SAFETY: sets one integer option; mimalloc allows it at any time.
    unsafe { libmimalloc_sys::mi_option_set(MIMALLOC_PURGE_DELAY, -1) };
}

/// Peak resident set size of this process so far, in MiB (Linux `VmHWM`; NaN elsewhere).
pub fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("VmHWM:")).map(|l| l.to_string()))
        .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        .map_or(f64::NAN, |kb| kb / 1024.0)
}
