/// Phone numbers: E.164 (`+` and 8–15 digits, separators allowed) and national forms of 10–12 digits, either
/// in groups (`(415) 555-2671`, `020 7946 0958`, `01 23 45 67 89`) or together when the first digit cannot
/// start a timestamp (`4155552671`, `02079460958`). Not dates, times, versions, dotted quads or card-shaped
/// groups of 4.
///
/// One pass: each run of digit groups is read once and skipped as a whole.
enum PhoneDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var groups: [Int] = []
        var separators: [UInt8] = []
        var index = 0
        while index < text.count {
            let byte = text[index]
            guard TextByte.isDigit(byte) || byte == TextByte.plus || byte == UInt8(ascii: "(") else {
                index += 1
                continue
            }
            guard !text.byte(before: index, { TextByte.isAlnum($0) || $0 == TextByte.dot || $0 == TextByte.plus }),
                let end = read(text, from: index, groups: &groups, separators: &separators)
            else {
                // `(2835601394)`: the digits after a `(` that opens no area code are tried on their own.
                index += 1
                if TextByte.isDigit(byte) {
                    while index < text.count, TextByte.isDigit(text[index]) { index += 1 }
                }
                continue
            }
            let international = byte == TextByte.plus
            if !text.byte(at: end, { TextByte.isAlnum($0) || $0 == TextByte.colon }),
                isPhone(international: international, groups, separators, text[index + (international ? 1 : 0)])
            {
                findings.append(Finding(start: index, end: end, label: label))
            }
            index = max(end, index + 1)
        }
    }

    /// Reads `+`, an optional `(area)`, then digit groups split by one space, dash or dot. Returns the offset
    /// past the last digit (or `)`), or nil when the text there is no number.
    private static func read(
        _ text: UnsafeRawBufferPointer,
        from start: Int,
        groups: inout [Int],
        separators: inout [UInt8]
    ) -> Int? {
        groups.removeAll(keepingCapacity: true)
        separators.removeAll(keepingCapacity: true)
        var index = start
        if text[index] == TextByte.plus { index += 1 }
        if text.byte(at: index, { $0 == UInt8(ascii: "(") }) {
            let open = index
            index += 1
            while index < text.count, TextByte.isDigit(text[index]) { index += 1 }
            guard (2...4).contains(index - open - 1), text.byte(at: index, { $0 == UInt8(ascii: ")") }) else {
                return nil
            }
            groups.append(index - open - 1)
            index += 1
            if text.byte(at: index, { $0 == TextByte.space || $0 == TextByte.dash }) { index += 1 }
            separators.append(UInt8(ascii: ")"))
            guard text.byte(at: index, TextByte.isDigit) else { return nil }
        }
        guard text.byte(at: index, TextByte.isDigit) else { return nil }
        while true {
            let groupStart = index
            while index < text.count, TextByte.isDigit(text[index]) { index += 1 }
            groups.append(index - groupStart)
            guard index + 1 < text.count, isSeparator(text[index]), TextByte.isDigit(text[index + 1]) else {
                return index
            }
            separators.append(text[index])
            index += 1
        }
    }

    private static func isSeparator(_ byte: UInt8) -> Bool {
        byte == TextByte.space || byte == TextByte.dash || byte == TextByte.dot
    }

    private static func isPhone(
        international: Bool,
        _ groups: [Int],
        _ separators: [UInt8],
        _ firstDigit: UInt8
    )
        -> Bool
    {
        let digits = groups.reduce(0, +)
        if international { return (8...15).contains(digits) }
        guard (10...12).contains(digits) else { return false }
        if groups.count == 1 {
            return digits == 10 && firstDigit >= UInt8(ascii: "2") || digits == 11 && firstDigit == UInt8(ascii: "0")
        }
        let dotted = separators.contains(TextByte.dot)
        if dotted, separators.contains(where: { $0 != TextByte.dot }) { return false }
        if dotted, groups.count == 4, groups.allSatisfy({ $0 <= 3 }) { return false }
        if groups.count >= 3, groups[0] == 4, groups[1] == 4, groups[2] == 4 { return false }
        guard (2...5).contains(groups[0]), groups.dropFirst().allSatisfy({ (2...4).contains($0) }) else { return false }
        let last = groups[groups.count - 1]
        return last >= 3 || groups.allSatisfy { $0 == 2 }
    }
}
