/// Card numbers: 13 to 19 digits, written together or in groups split by single spaces or dashes (the first
/// group then 4 digits, one kind of separator), passing the Luhn check and starting with a card network's
/// prefix. A longer run of digits is not a card; nor is a candidate glued to letters or digits.
///
/// One pass: the text is cut into runs of digit groups; each run is tried whole, then from each of its group
/// starts with at most 19 digits, so the work per byte is bounded.
enum PaymentCardDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var groups = DigitGroups()
        var index = 0
        while index < text.count {
            guard TextByte.isDigit(text[index]) else {
                index += 1
                continue
            }
            let runEnd = groups.read(text, from: index, separators: { $0 == TextByte.space || $0 == TextByte.dash })
            defer { index = runEnd }
            guard !text.byte(before: index, { TextByte.isAlnum($0) || $0 == TextByte.plus || $0 == TextByte.dot }),
                !text.byte(at: runEnd, TextByte.isAlnum)
            else { continue }
            if groups.count == 1 {
                if isCard(text, groups, first: 0, last: 0) {
                    findings.append(Finding(start: index, end: runEnd, label: label))
                }
                continue
            }
            var first = 0
            while first < groups.count {
                var matched: Int? = nil
                var digits = 0
                var last = first
                while last < groups.count {
                    digits += groups.length(last)
                    if digits > 19 { break }
                    if digits >= 13, isCard(text, groups, first: first, last: last) { matched = last }
                    last += 1
                }
                if let matched {
                    findings.append(Finding(start: groups.start(first), end: groups.end(matched), label: label))
                    first = matched + 1
                } else {
                    first += 1
                }
            }
        }
    }

    private static func isCard(_ text: UnsafeRawBufferPointer, _ groups: DigitGroups, first: Int, last: Int) -> Bool {
        var digits: [UInt8] = []
        digits.reserveCapacity(19)
        for group in first...last {
            for offset in groups.start(group)..<groups.end(group) { digits.append(text[offset] &- 0x30) }
        }
        guard (13...19).contains(digits.count) else { return false }
        if last > first {
            guard groups.length(first) == 4 else { return false }
            let separator = text[groups.end(first)]
            for group in first..<last where text[groups.end(group)] != separator { return false }
        }
        return hasNetworkPrefix(digits) && passesLuhn(digits)
    }

    static func passesLuhn(_ digits: [UInt8]) -> Bool {
        var sum = 0
        for (position, digit) in digits.reversed().enumerated() {
            var value = Int(digit)
            if position % 2 == 1 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return sum % 10 == 0
    }

    /// Visa, Mastercard (51–55, 2221–2720), American Express, Diners, JCB, Discover, UnionPay, Maestro.
    static func hasNetworkPrefix(_ digits: [UInt8]) -> Bool {
        func prefix(_ length: Int) -> Int { digits.prefix(length).reduce(0) { $0 * 10 + Int($1) } }
        let count = digits.count
        switch digits[0] {
        case 4: return count == 13 || count == 16 || count == 19
        case 2: return (2221...2720).contains(prefix(4)) && count == 16
        case 5:
            let two = prefix(2)
            if (51...55).contains(two) { return count == 16 }
            return two == 50 || (56...58).contains(two)
        case 3:
            let two = prefix(2)
            if two == 34 || two == 37 { return count == 15 }
            if (300...305).contains(prefix(3)) || two == 36 || two == 38 || two == 39 { return count >= 14 }
            return (3528...3589).contains(prefix(4)) && count >= 16
        case 6:
            let two = prefix(2)
            if prefix(4) == 6011 || two == 65 || (644...649).contains(prefix(3)) { return count >= 16 }
            return two == 62 || two == 63 || two == 67
        default: return false
        }
    }
}

/// A run of digit groups split by single separator bytes, read into reusable storage.
struct DigitGroups {
    private var bounds: [Int] = []

    var count: Int { bounds.count / 2 }
    func start(_ group: Int) -> Int { bounds[2 * group] }
    func end(_ group: Int) -> Int { bounds[2 * group + 1] }
    func length(_ group: Int) -> Int { end(group) - start(group) }

    /// Reads the run starting at the digit at `from`; returns the offset just past its last digit.
    mutating func read(_ text: UnsafeRawBufferPointer, from: Int, separators: (UInt8) -> Bool) -> Int {
        bounds.removeAll(keepingCapacity: true)
        var index = from
        while true {
            let groupStart = index
            while index < text.count, TextByte.isDigit(text[index]) { index += 1 }
            bounds.append(groupStart)
            bounds.append(index)
            guard index + 1 < text.count, separators(text[index]), TextByte.isDigit(text[index + 1]) else {
                return index
            }
            index += 1
        }
    }
}
