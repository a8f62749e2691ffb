//! Giving the C heap's free memory back to the operating system.
//!
//! A node's buffers (vertex and frame bytes, SQLite's pages, the JIT's work areas) come from the
//! C allocator. glibc returns free memory to the OS only from the top of its heap, so one live
//! chunk above a few megabytes of free ones keeps them all resident: under `bench:soak` the heap
//! grew by tens of megabytes in steps and stayed there while most of it was free. `malloc_trim(0)`
//! releases the free pages anywhere in every arena (glibc 2.8 and later).

/// Calls glibc's `malloc_trim(0)`: 1 when memory was released, 0 when there was none to release.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn trim() -> u32 {
    unsafe extern "C" {
        fn malloc_trim(pad: usize) -> i32;
    }
    // SAFETY: malloc_trim takes no pointers and is safe to call from any thread at any time.
    let released = unsafe { malloc_trim(0) };
    u32::from(released != 0)
}

/// Elsewhere the C library has no `malloc_trim`: 2 says so.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn trim() -> u32 {
    2
}

#[cfg(test)]
mod tests {
    #[test]
    fn trim_reports_whether_it_released_memory() {
        // Free a few megabytes in the middle of the heap, under a live chunk, then trim.
        let blocks: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; 64 * 1024]).collect();
        let keep = vec![1u8; 1024];
        drop(blocks);
        let first = super::trim();
        assert!(first <= 2);
        if cfg!(all(target_os = "linux", target_env = "gnu")) {
            assert_ne!(first, 2);
        }
        assert_eq!(keep[0], 1);
    }
}
