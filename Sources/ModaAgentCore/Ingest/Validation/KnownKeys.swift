/// A closed set of object keys that a walker records while scanning. `rawValue` indexes a slot buffer, so
/// cases must be numbered 0..<count.
protocol KnownKey: RawRepresentable<Int>, CaseIterable, Sendable {
    /// The key as it appears in JSON.
    var name: StaticString { get }
    static var matcher: KeyMatcher<Self> { get }
}

extension KnownKey {
    static var count: Int { matcher.keyCount }

    var nameString: String { name.description }
}

/// Looks up a raw key among a `KnownKey` set: candidates are bucketed by byte length, so a key is compared
/// with at most a handful of names, byte by byte, without allocating.
struct KeyMatcher<Key: KnownKey>: Sendable {
    private let byLength: [[Key]]
    let keyCount: Int

    init() {
        var buckets: [[Key]] = []
        var keyCount = 0
        for key in Key.allCases {
            let length = key.name.utf8CodeUnitCount
            while buckets.count <= length { buckets.append([]) }
            buckets[length].append(key)
            keyCount += 1
        }
        self.byLength = buckets
        self.keyCount = keyCount
    }

    /// The known key with exactly these (unescaped UTF-8) bytes.
    func match(_ bytes: UnsafeRawBufferPointer) -> Key? {
        guard bytes.count < byLength.count else { return nil }
        for candidate in byLength[bytes.count] {
            let equal = candidate.name.withUTF8Buffer { name in
                for offset in 0..<name.count where bytes[offset] != name[offset] { return false }
                return true
            }
            if equal { return candidate }
        }
        return nil
    }

    /// The known key that a scanned key token spells, decoding escapes only if the token has them.
    func match(_ token: JSONToken, in scanner: JSONScanner) -> Key? {
        if token.flag {
            return scanner.decodedString(token).withUnsafeBytes { match($0) }
        }
        return match(UnsafeRawBufferPointer(rebasing: scanner.bytes[token.stringContent]))
    }
}
