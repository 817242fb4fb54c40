/// Finds the first byte that breaks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
/// U+10FFFF). Runs before any JSON scanning so later stages may assume well-formed text.
enum UTF8Validation {
    /// Offset of the first byte of the first invalid sequence, or nil when all of `bytes` is UTF-8.
    static func firstInvalidOffset(in bytes: UnsafeRawBufferPointer) -> Int? {
        let count = bytes.count
        var index = 0
        while index < count {
            // Most event text is ASCII: test eight bytes per step until a byte has its high bit set.
            while index + 8 <= count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { return nil }
            let lead = bytes[index]
            if lead < 0x80 {
                index += 1
                continue
            }
            guard let length = sequenceLength(bytes, at: index, lead: lead) else { return index }
            index += length
        }
        return nil
    }

    /// Length of the valid multi-byte sequence starting with `lead` at `index`, or nil if it is invalid.
    private static func sequenceLength(_ bytes: UnsafeRawBufferPointer, at index: Int, lead: UInt8) -> Int? {
        let count = bytes.count
        // The allowed range of the second byte depends on the lead byte: it excludes overlong forms
        // (E0, F0), UTF-16 surrogates (ED) and code points above U+10FFFF (F4).
        let length: Int
        var secondLow: UInt8 = 0x80
        var secondHigh: UInt8 = 0xBF
        switch lead {
        case 0xC2...0xDF:
            length = 2
        case 0xE0:
            length = 3
            secondLow = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF:
            length = 3
        case 0xED:
            length = 3
            secondHigh = 0x9F
        case 0xF0:
            length = 4
            secondLow = 0x90
        case 0xF1...0xF3:
            length = 4
        case 0xF4:
            length = 4
            secondHigh = 0x8F
        default:
            return nil
        }
        guard index + length <= count else { return nil }
        let second = bytes[index + 1]
        guard second >= secondLow, second <= secondHigh else { return nil }
        var next = index + 2
        while next < index + length {
            guard bytes[next] & 0xC0 == 0x80 else { return nil }
            next += 1
        }
        return length
    }
}
