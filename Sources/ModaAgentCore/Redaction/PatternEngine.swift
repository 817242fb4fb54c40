import CVectorscan
import NIOConcurrencyHelpers

/// A compiled set of regular expressions run by Vectorscan (Hyperscan's API): every expression in one pass
/// over the text, in time linear in its length. Vectorscan refuses at compile time what it cannot run so
/// (back-references, look-around, patterns that match the empty string), and that refusal names the pattern.
final class PatternEngine: @unchecked Sendable {
    // @unchecked: `database` is immutable once compiled and Vectorscan allows concurrent scans of it; the
    // per-scan `hs_scratch_t`s are handed out one caller at a time from `spare`, under its lock.
    private let database: OpaquePointer
    private let prototype: OpaquePointer
    private let spare = NIOLockedValueBox<[OpaquePointer]>([])

    struct CompileError: Error {
        /// Index of the refused expression in the list given.
        var index: Int
        var message: String
    }

    /// `reportStarts`: each match carries its leftmost start (needed to replace it); without it only the end
    /// of the first match matters, which Vectorscan finds faster.
    init(expressions: [String], reportStarts: Bool, caseless: [Bool]? = nil) throws(CompileError) {
        var database: OpaquePointer? = nil
        var error: UnsafeMutablePointer<hs_compile_error_t>? = nil
        let flags: [UInt32] = expressions.indices.map { index in
            var flags = reportStarts ? UInt32(HS_FLAG_SOM_LEFTMOST) : UInt32(HS_FLAG_SINGLEMATCH)
            if caseless?[index] == true { flags |= UInt32(HS_FLAG_CASELESS) }
            return flags
        }
        let ids = expressions.indices.map { UInt32($0) }
        let cStrings = expressions.map { strdup($0) }
        defer { cStrings.forEach { free($0) } }
        let status = cStrings.map { UnsafePointer($0) }.withUnsafeBufferPointer { pointers in
            flags.withUnsafeBufferPointer { flags in
                ids.withUnsafeBufferPointer { ids in
                    hs_compile_multi(
                        pointers.baseAddress,
                        flags.baseAddress,
                        ids.baseAddress,
                        UInt32(expressions.count),
                        UInt32(HS_MODE_BLOCK),
                        nil,
                        &database,
                        &error
                    )
                }
            }
        }
        guard status == HS_SUCCESS, let database else {
            let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "error \(status)"
            let index = error.map { Int($0.pointee.expression) } ?? 0
            if let error { hs_free_compile_error(error) }
            throw CompileError(index: max(0, index), message: message)
        }
        var scratch: OpaquePointer? = nil
        guard hs_alloc_scratch(database, &scratch) == HS_SUCCESS, let scratch else {
            hs_free_database(database)
            throw CompileError(index: 0, message: "cannot allocate Vectorscan scratch space")
        }
        self.database = database
        self.prototype = scratch
    }

    deinit {
        for scratch in spare.withLockedValue({ $0 }) { hs_free_scratch(scratch) }
        hs_free_scratch(prototype)
        hs_free_database(database)
    }

    /// Whether any expression matches anywhere in `text`; stops at the first match.
    func matchesAny(_ text: UnsafeRawBufferPointer) -> Bool {
        var found = false
        withScratch { scratch in
            withUnsafeMutablePointer(to: &found) { flag in
                _ = hs_scan(database, text.baseAddress, UInt32(text.count), 0, scratch, { _, _, _, _, context in
                    context?.assumingMemoryBound(to: Bool.self).pointee = true
                    return 1
                }, flag)
            }
        }
        return found
    }

    /// Every match as (expression index, start, end); overlapping matches of one expression come merged.
    func matches(_ text: UnsafeRawBufferPointer) -> [(index: Int, start: Int, end: Int)] {
        var raw: [(index: Int, start: Int, end: Int)] = []
        withScratch { scratch in
            withUnsafeMutablePointer(to: &raw) { sink in
                _ = hs_scan(database, text.baseAddress, UInt32(text.count), 0, scratch, { id, from, to, _, context in
                    context?.assumingMemoryBound(to: [(index: Int, start: Int, end: Int)].self).pointee.append(
                        (Int(id), Int(from), Int(to))
                    )
                    return 0
                }, sink)
            }
        }
        // Matches come in order of their ends; with leftmost starts, a match overlapping the previous one of its
        // expression extends it.
        var merged: [(index: Int, start: Int, end: Int)] = []
        var lastOf: [Int: Int] = [:]
        for match in raw {
            if let last = lastOf[match.index], match.start <= merged[last].end {
                merged[last].start = min(merged[last].start, match.start)
                merged[last].end = max(merged[last].end, match.end)
            } else {
                lastOf[match.index] = merged.count
                merged.append(match)
            }
        }
        return merged
    }

    private func withScratch(_ body: (OpaquePointer) -> Void) {
        var scratch = spare.withLockedValue { $0.popLast() }
        if scratch == nil {
            var clone: OpaquePointer? = nil
            guard hs_clone_scratch(prototype, &clone) == HS_SUCCESS else { return }
            scratch = clone
        }
        guard let scratch else { return }
        body(scratch)
        spare.withLockedValue { $0.append(scratch) }
    }
}

#if canImport(Glibc)
import Glibc
#endif
