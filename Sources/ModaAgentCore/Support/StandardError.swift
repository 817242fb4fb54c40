#if canImport(Glibc)
import Glibc
#endif

/// Messages for a person at the terminal, written straight to file descriptor 2 (no buffering to
/// lose at exit).
public enum StandardError {
    public static func write(_ text: String) {
        let bytes = Array(text.utf8)
        bytes.withUnsafeBytes { raw in
            guard let base = raw.baseAddress else { return }
            var offset = 0
            while offset < raw.count {
                let written = Glibc.write(2, base + offset, raw.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }

    /// `write(_:)` with a newline added.
    public static func line(_ text: String) { write(text + "\n") }
}
