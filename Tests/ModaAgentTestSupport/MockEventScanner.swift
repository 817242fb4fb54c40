/// Finds the raw JSON of each element of a request body's top-level `"events"` array, byte for
/// byte as the client sent it, without parsing the events themselves.
///
///     {"environment":"x","events":[ {"a":1} , {"b":[2,"]"]} ]}
///                                   ^^^^^^^   ^^^^^^^^^^^^^
///
/// Tests compare these strings with what they queued, so re-encoding (which reorders keys and
/// rewrites numbers) would not do; and a byte scan keeps multi-megabyte batches cheap.
/// Containers are matched by bracket depth, skipping strings; the events are assumed to be valid
/// JSON (the agent validated them), so a malformed body just yields nil.
enum MockEventScanner {
    static func events(in body: [UInt8]) -> [String]? {
        body.withUnsafeBufferPointer { bytes in
            var cursor = Cursor(bytes: bytes)
            return cursor.topLevelEvents()
        }
    }

    private struct Cursor {
        let bytes: UnsafeBufferPointer<UInt8>
        var index = 0

        init(bytes: UnsafeBufferPointer<UInt8>) {
            self.bytes = bytes
        }

        private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func topLevelEvents() -> [String]? {
            skipSpace()
            guard current == UInt8(ascii: "{") else { return nil }
            index += 1
            skipSpace()
            while current == UInt8(ascii: "\"") {
                let keyStart = index + 1
                guard skipString() else { return nil }
                let isEvents = bytes[keyStart..<(index - 1)].elementsEqual("events".utf8)
                skipSpace()
                guard current == UInt8(ascii: ":") else { return nil }
                index += 1
                skipSpace()
                if isEvents, current == UInt8(ascii: "[") { return arrayElements() }
                guard skipValue() else { return nil }
                skipSpace()
                guard current == UInt8(ascii: ",") else { return nil }
                index += 1
                skipSpace()
            }
            return nil
        }

        /// The elements of the array whose `[` is at `index`.
        private mutating func arrayElements() -> [String]? {
            index += 1
            skipSpace()
            var elements: [String] = []
            if current == UInt8(ascii: "]") { return elements }
            while true {
                let start = index
                guard skipValue() else { return nil }
                elements.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))
                skipSpace()
                switch current {
                case UInt8(ascii: ","):
                    index += 1
                    skipSpace()
                case UInt8(ascii: "]"):
                    return elements
                default:
                    return nil
                }
            }
        }

        private mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        /// Past the string whose opening quote is at `index`.
        private mutating func skipString() -> Bool {
            index += 1
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\\"): index += 2
                case UInt8(ascii: "\""):
                    index += 1
                    return true
                default: index += 1
                }
            }
            return false
        }

        /// Past one value: a string, a container (by depth) or a scalar (up to a delimiter).
        private mutating func skipValue() -> Bool {
            guard let first = current else { return false }
            switch first {
            case UInt8(ascii: "\""):
                return skipString()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while let byte = current {
                    switch byte {
                    case UInt8(ascii: "\""):
                        guard skipString() else { return false }
                        continue
                    case UInt8(ascii: "{"), UInt8(ascii: "["):
                        depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 {
                            index += 1
                            return true
                        }
                    default:
                        break
                    }
                    index += 1
                }
                return false
            default:
                let start = index
                while let byte = current {
                    switch byte {
                    case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x09, 0x0A, 0x0D:
                        return index > start
                    default:
                        index += 1
                    }
                }
                return index > start
            }
        }
    }
}
