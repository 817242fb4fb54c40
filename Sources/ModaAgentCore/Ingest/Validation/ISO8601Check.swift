/// Accepts the ISO 8601 date-times the API documents: `YYYY-MM-DDTHH:MM:SS`, an optional fraction, then
/// `Z` or an offset `±HH:MM` / `±HHMM` (`T` and `Z` may be lowercase). Calendar ranges are checked,
/// leap years included; a date without a time is rejected.
enum ISO8601Check {
    static func isDateTime(_ text: UnsafeRawBufferPointer) -> Bool {
        var reader = Reader(text: text)
        guard let year = reader.digits(4), reader.skip("-"),
            let month = reader.digits(2), reader.skip("-"),
            let day = reader.digits(2), reader.skip("T") || reader.skip("t"),
            let hour = reader.digits(2), reader.skip(":"),
            let minute = reader.digits(2), reader.skip(":"),
            let second = reader.digits(2)
        else { return false }
        guard (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day),
            hour <= 23, minute <= 59, second <= 60
        else { return false }
        if reader.skip(".") {
            guard reader.digitRun() > 0 else { return false }
        }
        if reader.skip("Z") || reader.skip("z") {
            return reader.isAtEnd
        }
        guard reader.skip("+") || reader.skip("-"), let offsetHours = reader.digits(2), offsetHours <= 23 else {
            return false
        }
        _ = reader.skip(":")
        guard let offsetMinutes = reader.digits(2), offsetMinutes <= 59 else { return false }
        return reader.isAtEnd
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: isLeap(year) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    private static func isLeap(_ year: Int) -> Bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }

    private struct Reader {
        let text: UnsafeRawBufferPointer
        var index = 0

        var isAtEnd: Bool { index == text.count }

        mutating func skip(_ character: Unicode.Scalar) -> Bool {
            guard index < text.count, text[index] == UInt8(ascii: character) else { return false }
            index += 1
            return true
        }

        /// Exactly `count` decimal digits as a number.
        mutating func digits(_ count: Int) -> Int? {
            guard index + count <= text.count else { return nil }
            var value = 0
            for offset in 0..<count {
                let byte = text[index + offset]
                guard JSONByte.isDigit(byte) else { return nil }
                value = value * 10 + Int(byte - JSONByte.digitZero)
            }
            index += count
            return value
        }

        /// Skips any number of digits and says how many there were.
        mutating func digitRun() -> Int {
            let start = index
            while index < text.count, JSONByte.isDigit(text[index]) { index += 1 }
            return index - start
        }
    }
}
