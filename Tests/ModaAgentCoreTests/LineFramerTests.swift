import NIOCore
import Testing

@testable import ModaAgentCore

@Suite("line framing")
struct LineFramerTests {
    private enum Seen: Equatable {
        case line(Int, String)
        case tooLong(Int)
    }

    /// Feeds `chunks` one read at a time, then EOF.
    private func frame(_ chunks: [String], maxLineBytes: Int = 16) -> [Seen] {
        var framer = LineFramer(maxLineBytes: maxLineBytes)
        var seen: [Seen] = []
        let record: (LineFramer.Item) -> Void = { item in
            switch item {
            case .line(let number, let bytes): seen.append(.line(number, String(decoding: bytes, as: UTF8.self)))
            case .tooLong(let number): seen.append(.tooLong(number))
            }
        }
        for chunk in chunks {
            var buffer = ByteBuffer(string: chunk)
            framer.consume(&buffer, record)
            #expect(buffer.readableBytes == 0)
        }
        framer.finish(record)
        return seen
    }

    @Test("lines split across reads, CRLF trimmed, numbering counts blank lines")
    func basic() {
        #expect(frame(["ab\ncd", "ef\r\n\nx"]) == [.line(1, "ab"), .line(2, "cdef"), .line(3, ""), .line(4, "x")])
    }

    @Test("a final line without newline counts; an empty tail does not")
    func finalLine() {
        #expect(frame(["a\nb"]) == [.line(1, "a"), .line(2, "b")])
        #expect(frame(["a\n"]) == [.line(1, "a")])
    }

    @Test("an over-long line in one read is reported and skipped")
    func longInOneRead() {
        #expect(frame(["0123456789abcdefXYZ\nok\n"]) == [.tooLong(1), .line(2, "ok")])
    }

    @Test("an over-long line across reads is reported once, discarded to its newline")
    func longAcrossReads() {
        #expect(
            frame(["0123456789", "abcdefghij", "klmnop", "qrs\nok\n"]) == [.tooLong(1), .line(2, "ok")]
        )
    }

    @Test("an over-long unterminated line at EOF is reported once")
    func longAtEOF() {
        #expect(frame(["0123456789", "abcdefghijkl"]) == [.tooLong(1)])
    }

    @Test("a line of exactly maxLineBytes passes")
    func exactLimit() {
        #expect(frame(["0123456789abcdef\n"]) == [.line(1, "0123456789abcdef")])
        #expect(frame(["01234567", "89abcdef\n"]) == [.line(1, "0123456789abcdef")])
    }

    @Test("byte-at-a-time delivery frames the same lines")
    func byteAtATime() {
        let text = "a\r\nbb\n\nccc"
        #expect(frame(text.map { String($0) }) == frame([text]))
    }
}
