/// Writes Swift strings as JSON string content (without the quotes), for the values the agent inserts.
enum JSONStringEscaping {
    static func escapedContent(_ string: String) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case JSONByte.quote, JSONByte.backslash:
                result.append(JSONByte.backslash)
                result.append(byte)
            case 0x0A: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "n")])
            case 0x0D: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "r")])
            case 0x09: result.append(contentsOf: [JSONByte.backslash, UInt8(ascii: "t")])
            case 0x00..<0x20:
                let hex = Array("0123456789ABCDEF".utf8)
                result.append(contentsOf: [
                    JSONByte.backslash, UInt8(ascii: "u"), JSONByte.digitZero, JSONByte.digitZero,
                ])
                result.append(hex[Int(byte >> 4)])
                result.append(hex[Int(byte & 0x0F)])
            default:
                result.append(byte)
            }
        }
        return result
    }

    /// Calls `body` with `string` as JSON string content. A native string that needs no escaping (such as a
    /// formatted timestamp) is passed in place, without allocating.
    static func withEscapedContent<R>(of string: String, _ body: (UnsafeRawBufferPointer) -> R) -> R {
        let inPlace: R?? = string.utf8.withContiguousStorageIfAvailable { utf8 in
            utf8.contains { $0 < 0x20 || $0 == JSONByte.quote || $0 == JSONByte.backslash }
                ? nil : body(UnsafeRawBufferPointer(utf8))
        }
        if let inPlace, let result = inPlace {
            return result
        }
        return escapedContent(string).withUnsafeBytes(body)
    }
}
