/// The conversation an event belongs to, as a 64-bit key that picks its delivery lane: FNV-1a of
/// the unescaped `conversation_id` (standard events) or `conversationId` (typed ones). Stable
/// across runs and processes, unlike `Hasher`. An event without one gets `none`, which always
/// lands in lane 0.
enum ConversationKey {
    static let none: UInt64 = 0

    /// Reads only the top level of the stored (already validated) event, stopping at
    /// `conversation_id`; an event the scanner cannot read has no conversation.
    static func of(event bytes: UnsafeRawBufferPointer) -> UInt64 {
        guard bytes.count > 1 else { return none }
        var scanner = JSONScanner(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.current == JSONByte.openBrace else { return none }
        var typed = none
        do {
            guard try scanner.beginObject(level: 1) else { return none }
            repeat {
                let key = try scanner.scanKey()
                let isStandard = scanner.string(key, equals: "conversation_id")
                if isStandard || (typed == none && scanner.string(key, equals: "conversationId")) {
                    let value = try scanner.scanValue(depth: 1)
                    guard value.kind == .string else { continue }
                    let hash = Self.hash(value, in: scanner)
                    if isStandard { return hash }
                    typed = hash
                } else {
                    try scanner.skipValue(depth: 1)
                }
            } while try scanner.nextMember()
        } catch {
            return typed
        }
        return typed
    }

    static func of(event: [UInt8]) -> UInt64 {
        event.withUnsafeBytes { of(event: $0) }
    }

    /// The key of a conversation id as an operator types it (`modactl trace --conversation`): the
    /// same FNV-1a over its UTF-8 bytes as over the stored event's unescaped string.
    public static func of(id: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in id.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return hash == none ? 1 : hash
    }

    private static func hash(_ token: JSONToken, in scanner: JSONScanner) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ byte: UInt8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        if token.flag {
            for byte in scanner.decodedString(token) { mix(byte) }
        } else {
            for index in token.stringContent { mix(scanner.bytes[index]) }
        }
        // `none` is reserved for events without a conversation.
        return hash == none ? 1 : hash
    }
}
