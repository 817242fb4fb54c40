/// US social security numbers written `123-45-6789`: area not 000, 666 or 9xx, group not 00, serial not 0000.
enum USSSNDetector {
    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        guard text.count >= 11 else { return }
        var index = 0
        while index + 11 <= text.count {
            guard isShape(text, index),
                !text.byte(before: index, { TextByte.isAlnum($0) || $0 == TextByte.dash || $0 == TextByte.dot }),
                !text.byte(at: index + 11, TextByte.isAlnum),
                !(text.byte(at: index + 11, { $0 == TextByte.dash || $0 == TextByte.dot })
                    && text.byte(at: index + 12, TextByte.isDigit))
            else {
                index += 1
                continue
            }
            func number(_ from: Int, _ length: Int) -> Int {
                (from..<(from + length)).reduce(0) { $0 * 10 + TextByte.digitValue(text[$1]) }
            }
            let area = number(index, 3)
            if area != 0, area != 666, area < 900, number(index + 4, 2) != 0, number(index + 7, 4) != 0 {
                findings.append(Finding(start: index, end: index + 11, label: label))
            }
            index += 11
        }
    }

    private static func isShape(_ text: UnsafeRawBufferPointer, _ at: Int) -> Bool {
        for offset in 0..<11 {
            let byte = text[at + offset]
            if offset == 3 || offset == 6 {
                if byte != TextByte.dash { return false }
            } else if !TextByte.isDigit(byte) {
                return false
            }
        }
        return true
    }
}
