/// E-mail addresses `local@domain.tld`: a domain of two or more labels whose last is two or more letters.
/// Not `@mentions`, `user@localhost` or `pkg@1.2.3`.
///
/// One pass: from each `@`, the local part is read backwards only as far as the previous `@` (which cannot be
/// in a local part) and the domain forwards only as far as the next, so every byte is read at most twice.
enum EmailDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var lastEnd = 0
        var index = 0
        while index < text.count {
            guard text[index] == TextByte.at else {
                index += 1
                continue
            }
            var localStart = index
            while localStart > lastEnd, isLocal(text[localStart - 1]) { localStart -= 1 }
            while localStart < index, text[localStart] == TextByte.dot { localStart += 1 }
            var domainEnd = index + 1
            while domainEnd < text.count, isDomain(text[domainEnd]) { domainEnd += 1 }
            while domainEnd > index + 1, text[domainEnd - 1] == TextByte.dot || text[domainEnd - 1] == TextByte.dash {
                domainEnd -= 1
            }
            if localStart < index, index - localStart <= 64, text[index - 1] != TextByte.dot,
                isDomainName(text, (index + 1)..<domainEnd)
            {
                findings.append(Finding(start: localStart, end: domainEnd, label: label))
                lastEnd = domainEnd
                index = domainEnd
            } else {
                index += 1
            }
        }
    }

    private static func isLocal(_ byte: UInt8) -> Bool {
        TextByte.isAlnum(byte) || byte == TextByte.dot || byte == TextByte.underscore || byte == TextByte.plus
            || byte == TextByte.dash || byte == UInt8(ascii: "%")
    }

    private static func isDomain(_ byte: UInt8) -> Bool {
        TextByte.isAlnum(byte) || byte == TextByte.dash || byte == TextByte.dot
    }

    private static func isDomainName(_ text: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        guard range.count >= 4, range.count <= 253 else { return false }
        var labels = 0
        var labelStart = range.lowerBound
        var lastLabelLetters = true
        for index in range.lowerBound...range.upperBound {
            if index == range.upperBound || text[index] == TextByte.dot {
                let length = index - labelStart
                guard (1...63).contains(length), text[labelStart] != TextByte.dash, text[index - 1] != TextByte.dash
                else { return false }
                labels += 1
                lastLabelLetters = length >= 2 && (labelStart..<index).allSatisfy { TextByte.isLetter(text[$0]) }
                labelStart = index + 1
            }
        }
        return labels >= 2 && lastLabelLetters
    }
}
