import NIOCore

#if canImport(Glibc)
import Glibc
#endif

/// Splits a connection's byte stream into lines (docs/protocol.md).
///
///     bytes ──▶ [ pending partial line ] ──▶ .line(n, bytes)      complete line, "\r\n" trimmed
///                        │                   .tooLong(n)          over maxLineBytes: the rest up to
///                        └─ at EOF ────────▶ .line(n, bytes)      the next "\n" is discarded
///
/// Line numbers count every line, blank ones included, so replies can name them.
struct LineFramer {
    enum Item {
        case line(number: Int, bytes: UnsafeRawBufferPointer)
        case tooLong(number: Int)
    }

    let maxLineBytes: Int
    private var partial: ByteBuffer?
    private var discarding = false
    private(set) var lineNumber = 0

    init(maxLineBytes: Int) {
        self.maxLineBytes = maxLineBytes
    }

    /// Memory the unfinished line takes (its buffer's capacity), for the memory budget.
    var stashedBytes: Int { partial?.capacity ?? 0 }

    /// Feeds `buffer`; `body` sees each complete line. The bytes passed are valid only inside `body`.
    mutating func consume(_ buffer: inout ByteBuffer, _ body: (Item) -> Void) {
        if partial == nil && !discarding {
            // Fast path: lines straight out of the read buffer, no copy.
            scan(&buffer, body)
            if buffer.readableBytes > 0 {
                stash(&buffer, body)
            }
            return
        }
        while buffer.readableBytes > 0 {
            let newline = buffer.withUnsafeReadableBytes { Self.newline(in: $0, from: 0) }
            guard let newline else {
                if discarding {
                    buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
                } else {
                    stash(&buffer, body)
                }
                return
            }
            if discarding {
                buffer.moveReaderIndex(forwardBy: newline + 1)
                discarding = false
                continue
            }
            if var pending = partial {
                partial = nil
                if pending.readableBytes + newline > maxLineBytes {
                    buffer.moveReaderIndex(forwardBy: newline + 1)
                    lineNumber += 1
                    body(.tooLong(number: lineNumber))
                } else {
                    var head = buffer.readSlice(length: newline + 1) ?? ByteBuffer()
                    pending.writeBuffer(&head)
                    emitLine(pending, body)
                }
            }
            scan(&buffer, body)
        }
    }

    /// Called at end of input: a final line without "\n" still counts.
    mutating func finish(_ body: (Item) -> Void) {
        if discarding {
            discarding = false
            return
        }
        guard let pending = partial else { return }
        partial = nil
        emitLine(pending, body, hasNewline: false)
    }

    private mutating func scan(_ buffer: inout ByteBuffer, _ body: (Item) -> Void) {
        let consumed = buffer.withUnsafeReadableBytes { bytes -> Int in
            var start = 0
            while start < bytes.count {
                guard let newline = Self.newline(in: bytes, from: start) else { break }
                lineNumber += 1
                if newline - start > maxLineBytes {
                    body(.tooLong(number: lineNumber))
                } else {
                    body(
                        .line(
                            number: lineNumber,
                            bytes: Self.trimCR(UnsafeRawBufferPointer(rebasing: bytes[start..<newline]))
                        )
                    )
                }
                start = newline + 1
            }
            return start
        }
        buffer.moveReaderIndex(forwardBy: consumed)
    }

    private mutating func stash(_ buffer: inout ByteBuffer, _ body: (Item) -> Void) {
        let existing = partial?.readableBytes ?? 0
        if existing + buffer.readableBytes > maxLineBytes {
            // Over the limit without a newline yet: answer now, then drop everything up to the next "\n".
            partial = nil
            discarding = true
            lineNumber += 1
            body(.tooLong(number: lineNumber))
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return
        }
        if partial == nil {
            var copy = ByteBufferAllocator().buffer(capacity: max(buffer.readableBytes, 1024))
            copy.writeBuffer(&buffer)
            partial = copy
        } else {
            // ByteBuffer rounds capacity up to a power of two: the memory budget counts the capacity
            // (`stashedBytes`) and lets a partial line read on only while twice it fits its share.
            partial?.reserveCapacity(existing + buffer.readableBytes)
            partial?.writeBuffer(&buffer)
        }
    }

    private mutating func emitLine(_ line: ByteBuffer, _ body: (Item) -> Void, hasNewline: Bool = true) {
        lineNumber += 1
        line.withUnsafeReadableBytes { bytes in
            let content = hasNewline ? UnsafeRawBufferPointer(rebasing: bytes.dropLast()) : bytes
            body(.line(number: lineNumber, bytes: Self.trimCR(content)))
        }
    }

    /// memchr: the search for "\n" is the framer's whole cost, and libc's is vectorised.
    private static func newline(in bytes: UnsafeRawBufferPointer, from start: Int) -> Int? {
        guard start < bytes.count, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, 0x0A, bytes.count - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    private static func trimCR(_ bytes: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        if let last = bytes.last, last == UInt8(ascii: "\r") {
            return UnsafeRawBufferPointer(rebasing: bytes.dropLast())
        }
        return bytes
    }
}
