/// IBANs: a country code with its IBAN length, check digits, then the BBAN (upper-case letters and digits),
/// together or in groups of 4 split by single spaces; the whole must pass the mod-97 check.
enum IBANDetector {
    /// Total IBAN length per country (the IBAN registry).
    static let lengths: [UInt16: Int] = {
        let table =
            "AD24 AE23 AL28 AT20 AZ28 BA20 BE16 BG22 BH22 BR29 BY28 CH21 CR22 CY28 CZ24 DE22 DK18 DO28 "
            + "EE20 EG29 ES24 FI18 FO18 FR27 GB22 GE22 GI23 GL18 GR27 GT28 HR21 HU28 IE22 IL23 IQ23 IS26 IT27 "
            + "JO30 KW30 KZ20 LB28 LC32 LI21 LT20 LU20 LV21 LY25 MC27 MD24 ME22 MK19 MR27 MT31 MU30 NL18 NO15 "
            + "PK24 PL28 PS29 PT25 QA29 RO24 RS22 SA24 SC31 SE24 SI19 SK24 SM27 ST25 SV28 TL23 TN24 TR26 UA29 "
            + "VA22 VG24 XK20"
        var lengths: [UInt16: Int] = [:]
        for entry in table.split(separator: " ") {
            let bytes = Array(entry.utf8)
            lengths[UInt16(bytes[0]) << 8 | UInt16(bytes[1])] = Int(String(entry.dropFirst(2)))
        }
        return lengths
    }()

    static func scan(_ text: UnsafeRawBufferPointer, label: Int, into findings: inout [Finding]) {
        var compact: [UInt8] = []
        var index = 0
        while index + 15 <= text.count {
            guard TextByte.isUpper(text[index]), TextByte.isUpper(text[index + 1]),
                TextByte.isDigit(text[index + 2]), TextByte.isDigit(text[index + 3]),
                !text.byte(before: index, TextByte.isAlnum),
                let length = lengths[UInt16(text[index]) << 8 | UInt16(text[index + 1])]
            else {
                index += 1
                continue
            }
            // Gather `length` characters, allowing one space before every fourth.
            compact.removeAll(keepingCapacity: true)
            var cursor = index
            while compact.count < length, cursor < text.count {
                let byte = text[cursor]
                if TextByte.isUpper(byte) || TextByte.isDigit(byte) {
                    compact.append(byte)
                    cursor += 1
                } else if byte == TextByte.space, compact.count % 4 == 0, compact.count > 0,
                    text.byte(at: cursor + 1, { TextByte.isUpper($0) || TextByte.isDigit($0) })
                {
                    cursor += 1
                } else {
                    break
                }
            }
            if compact.count == length, !text.byte(at: cursor, TextByte.isAlnum), passesMod97(compact) {
                findings.append(Finding(start: index, end: cursor, label: label))
                index = cursor
            } else {
                index += 1
            }
        }
    }

    /// ISO 13616: move the first four characters to the end, letters as 10–35, the number mod 97 is 1.
    static func passesMod97(_ iban: [UInt8]) -> Bool {
        var remainder = 0
        for position in 0..<iban.count {
            let byte = iban[(position + 4) % iban.count]
            if TextByte.isDigit(byte) {
                remainder = (remainder * 10 + TextByte.digitValue(byte)) % 97
            } else {
                remainder = (remainder * 100 + Int(byte - 0x41 + 10)) % 97
            }
        }
        return remainder == 1
    }
}
