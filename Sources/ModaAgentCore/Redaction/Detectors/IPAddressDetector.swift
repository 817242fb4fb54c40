/// IP addresses: IPv4 dotted quads (each part at most 255) and IPv6 (eight groups of up to 4 hex digits, or
/// fewer with one `::`, an IPv4 tail allowed). Not longer dotted runs (`1.2.3.4.5`), MAC addresses (six
/// groups), times (`10:30:15`) or `Type::member`.
enum IPAddressDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        scanIPv6(text, label: label, into: &findings)
        scanIPv4(text, label: label, into: &findings)
    }

    private static func scanIPv4(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            guard TextByte.isDigit(text[index]),
                !text.byte(before: index, { TextByte.isAlnum($0) || $0 == TextByte.dot })
            else {
                index += 1
                continue
            }
            if let end = ipv4End(text, from: index),
                !text.byte(at: end, TextByte.isAlnum),
                !(text.byte(at: end, { $0 == TextByte.dot }) && text.byte(at: end + 1, TextByte.isDigit))
            {
                findings.append(Finding(start: index, end: end, label: label))
                index = end
            } else {
                index += 1
                while index < text.count, TextByte.isDigit(text[index]) { index += 1 }
            }
        }
    }

    /// The end of a dotted quad starting at `from`, or nil.
    static func ipv4End(_ text: UnsafeRawBufferPointer, from: Int) -> Int? {
        var index = from
        for part in 0..<4 {
            if part > 0 {
                guard text.byte(at: index, { $0 == TextByte.dot }) else { return nil }
                index += 1
            }
            let partStart = index
            var value = 0
            while index < text.count, TextByte.isDigit(text[index]), index - partStart < 4 {
                value = value * 10 + TextByte.digitValue(text[index])
                index += 1
            }
            guard (1...3).contains(index - partStart), value <= 255 else { return nil }
        }
        return index
    }

    private static func scanIPv6(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var index = 0
        while index < text.count {
            guard startsIPv6(text, index) else {
                index += 1
                continue
            }
            var end = index
            while end < text.count,
                TextByte.isHex(text[end]) || text[end] == TextByte.colon || text[end] == TextByte.dot
            {
                end += 1
            }
            // A sentence's full stop is not part of the address.
            var candidateEnd = end
            while candidateEnd > index, text[candidateEnd - 1] == TextByte.dot { candidateEnd -= 1 }
            if !text.byte(at: end, TextByte.isAlnum), isIPv6(text, index..<candidateEnd) {
                findings.append(Finding(start: index, end: candidateEnd, label: label))
            }
            index = max(end, index + 1)
        }
    }

    /// A hex digit or `::` after a separator, or a hex digit right after `label:` (`IP:fe80::1`).
    private static func startsIPv6(_ text: UnsafeRawBufferPointer, _ index: Int) -> Bool {
        let byte = text[index]
        let separated = !text.byte(
            before: index,
            { TextByte.isAlnum($0) || $0 == TextByte.colon || $0 == TextByte.dot }
        )
        if TextByte.isHex(byte) {
            return separated
                || text.byte(before: index, { $0 == TextByte.colon })
                    && !text.byte(
                        before: index - 1,
                        { TextByte.isHex($0) || $0 == TextByte.colon || $0 == TextByte.dot }
                    )
        }
        return byte == TextByte.colon && separated && text.byte(at: index + 1, { $0 == TextByte.colon })
    }

    static func isIPv6(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var groups = 0
        var compressed = false
        var colons = 0
        var index = range.lowerBound
        if text.has("::", at: index) {
            compressed = true
            colons = 2
            index += 2
            if index == range.upperBound { return false }
        }
        while index < range.upperBound {
            let groupStart = index
            while index < range.upperBound, TextByte.isHex(text[index]) { index += 1 }
            let length = index - groupStart
            if index < range.upperBound, text[index] == TextByte.dot {
                // An IPv4 tail counts as two groups and must end the address.
                guard let end = ipv4End(text, from: groupStart), end == range.upperBound else { return false }
                groups += 2
                break
            }
            guard (1...4).contains(length) else { return false }
            groups += 1
            if index == range.upperBound { break }
            guard text[index] == TextByte.colon else { return false }
            colons += 1
            index += 1
            if index < range.upperBound, text[index] == TextByte.colon {
                if compressed { return false }
                compressed = true
                colons += 1
                index += 1
            } else if index == range.upperBound {
                return false
            }
        }
        guard colons >= 2, groups >= 1 else { return false }
        return compressed ? groups <= 7 : groups == 8
    }
}
