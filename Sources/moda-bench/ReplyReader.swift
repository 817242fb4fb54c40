#if canImport(Glibc)
import Glibc
#endif
import ModaAgentTestSupport

/// The reading side of a load connection, for the throughput and the paced load alike: counts the
/// agent's replies as they stream in until `expected` came back, and stops at end of stream or
/// when nothing arrived for `stallSeconds` (a hung agent fails the run instead of hanging it).
enum ReplyReader {
    /// What went wrong, or nil when every reply came; `onLine` gets each reply line's receive time.
    static func read(
        from socket: BlockingSocket,
        expected: Int,
        stallSeconds: Double,
        bufferBytes: Int,
        counter: inout ReplyCounter,
        onLine: (UInt64) -> Void = { _ in }
    ) -> String? {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: bufferBytes, alignment: 16)
        defer { buffer.deallocate() }
        socket.setReceiveTimeout(seconds: 0.25)
        var lastProgress = Monotonic.now()
        while counter.lines < expected {
            let got = socket.receive(into: buffer)
            let failure = errno
            let now = Monotonic.now()
            if got > 0 {
                counter.consume(UnsafeRawBufferPointer(rebasing: buffer[0..<got])) { _ in onLine(now) }
                lastProgress = now
            } else if got == 0 {
                return "the agent closed the connection after \(counter.lines) of \(expected) replies"
            } else if failure == EAGAIN || failure == EINTR {
                if Monotonic.seconds(from: lastProgress, to: now) > stallSeconds {
                    return "no reply for \(Int(stallSeconds)) s after \(counter.lines) of \(expected) replies"
                }
            } else {
                errno = failure
                return BenchFailure.system("receive").description
            }
        }
        return nil
    }
}
