import CMalloc

/// glibc malloc settings that keep resident memory near what the daemon holds (`memory.maxBufferedBytes`).
public enum AllocatorTuning {
    /// Call first thing in `main`, before any other thread exists: a thread keeps the arena it first
    /// allocated from.
    ///
    /// One arena: glibc otherwise gives each thread (event loops, the writer, delivery, the
    /// concurrency pool) an arena of its own, and memory freed in one is never reused by another.
    /// Lines are read on the event loops and freed on the writer's thread once committed, so every
    /// arena's high-water mark stayed resident: with the 64 MiB budget full of 1 MB lines being
    /// committed, 8 arenas took RSS 40-60 MB past the budget, one arena 15-20. Small allocations
    /// stay off the arena's lock in each thread's cache (tcache).
    ///
    /// A fixed mmap threshold: glibc otherwise raises it to the size of each large block freed, so long
    /// lines (partial-line buffers up to socket.maxLineBytes) come from the heap and the memory they
    /// leave behind stays resident; mapped, it goes back to the system when a line is done.
    public static func apply() {
        mallopt(M_ARENA_MAX, 1)
        mallopt(M_MMAP_THRESHOLD, 128 * 1024)
    }
}
