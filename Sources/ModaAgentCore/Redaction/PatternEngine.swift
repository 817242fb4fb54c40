import CVectorscan
import NIOConcurrencyHelpers

#if canImport(Glibc)
import Glibc
#endif

/// One operator pattern compiled by Vectorscan (Hyperscan's API), which runs it in time linear in the text
/// and refuses at compile time what it cannot run so (back-references, look-around, patterns that match the
/// empty string): that refusal is the config error naming the pattern.
///
/// One database per pattern, not one for all: Debian's Vectorscan 5.4.9 misses matches past the first ~64
/// bytes of the text in databases of several patterns (and with HS_FLAG_SINGLEMATCH) on AVX-512 machines such
/// as the one this was built on; single-pattern databases with HS_FLAG_SOM_LEFTMOST find them
/// (`PatternEngineTests` checks every offset up to 4 KiB).
final class PatternEngine: @unchecked Sendable {
    // @unchecked: `database` is immutable once compiled and Vectorscan allows concurrent scans of it; the
    // per-scan `hs_scratch_t`s are handed out one caller at a time from `spare`, under its lock, and
    // `prototype` is only cloned.
    private let database: OpaquePointer
    private let prototype: OpaquePointer
    private let spare = NIOLockedValueBox<[OpaquePointer]>([])

    struct CompileError: Error {
        var message: String
    }

    init(expression: String) throws(CompileError) {
        var database: OpaquePointer? = nil
        var error: UnsafeMutablePointer<hs_compile_error_t>? = nil
        let status = hs_compile(
            expression,
            UInt32(HS_FLAG_SOM_LEFTMOST),
            UInt32(HS_MODE_BLOCK),
            nil,
            &database,
            &error
        )
        guard status == HS_SUCCESS, let database else {
            let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(status)"
            if let error { hs_free_compile_error(error) }
            throw CompileError(message: message)
        }
        var scratch: OpaquePointer? = nil
        guard hs_alloc_scratch(database, &scratch) == HS_SUCCESS, let scratch else {
            hs_free_database(database)
            throw CompileError(message: "cannot allocate Vectorscan scratch space")
        }
        self.database = database
        self.prototype = scratch
    }

    deinit {
        for scratch in spare.withLockedValue({ $0 }) { hs_free_scratch(scratch) }
        hs_free_scratch(prototype)
        hs_free_database(database)
    }

    /// Every match as (start, end), overlapping matches merged: Vectorscan reports each end with its leftmost
    /// start, so `[0-9]+` over `1234` gives (0,1), (0,2), … which merge into (0,4).
    func matches(_ text: UnsafeRawBufferPointer) -> [(start: Int, end: Int)] {
        guard let base = text.baseAddress, text.count > 0 else { return [] }
        var raw: [(start: Int, end: Int)] = []
        let scanned = withScratch { scratch in
            withUnsafeMutablePointer(to: &raw) { sink in
                _ = hs_scan(
                    database,
                    base,
                    UInt32(text.count),
                    0,
                    scratch,
                    { _, from, to, _, context in
                        context?.assumingMemoryBound(to: [(start: Int, end: Int)].self).pointee.append(
                            (Int(from), Int(to))
                        )
                        return 0
                    },
                    sink
                )
            }
        }
        // Fail closed: text that could not be scanned (no memory for scratch space) is redacted whole.
        guard scanned else { return [(0, text.count)] }
        var merged: [(start: Int, end: Int)] = []
        for match in raw {
            if let last = merged.last, match.start <= last.end {
                merged[merged.count - 1] = (min(last.start, match.start), max(last.end, match.end))
            } else {
                merged.append(match)
            }
        }
        return merged
    }

    private func withScratch(_ body: (OpaquePointer) -> Void) -> Bool {
        var scratch = spare.withLockedValue { $0.popLast() }
        if scratch == nil {
            var clone: OpaquePointer? = nil
            if hs_clone_scratch(prototype, &clone) == HS_SUCCESS { scratch = clone }
        }
        guard let scratch else { return false }
        body(scratch)
        spare.withLockedValue { $0.append(scratch) }
        return true
    }
}
