/// Counts reply lines as they stream in and spots refusals cheaply: a reply starts `{"ok":true`
/// or `{"ok":false` (docs/protocol.md), so the byte at column 6 decides; no JSON parse per reply.
/// Keeps the text of the first refusal for the error report.
struct ReplyCounter {
    private(set) var lines = 0
    private(set) var refused = 0
    private var firstRefusalBytes: [UInt8] = []
    private var column = 0
    private var lineRefused = false
    private var capturing = false

    /// The first refused reply, as the agent wrote it (cut at 300 bytes).
    var firstRefusal: String? {
        refused == 0 ? nil : "{\"ok\":" + String(decoding: firstRefusalBytes, as: UTF8.self)
    }

    /// Feeds received bytes; `onLine` gets the index of each reply line as it completes.
    mutating func consume(_ bytes: UnsafeRawBufferPointer, onLine: (Int) -> Void) {
        for byte in bytes {
            if byte == 0x0A {
                if lineRefused { refused += 1 }
                capturing = false
                lineRefused = false
                column = 0
                onLine(lines)
                lines += 1
                continue
            }
            if column == 6, byte != UInt8(ascii: "t") {
                lineRefused = true
                capturing = firstRefusalBytes.isEmpty
            }
            if capturing, firstRefusalBytes.count < 300 { firstRefusalBytes.append(byte) }
            column += 1
        }
    }
}
