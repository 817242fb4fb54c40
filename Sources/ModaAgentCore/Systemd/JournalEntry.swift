/// One journal entry in journald's native protocol, the datagram sd_journal_sendv(3) sends. Each field is
///
///     NAME=value\n                                   a value without a newline
///     NAME\n <value length: UInt64 LE> value \n      a value with one (the length says where it ends)
///
/// e.g. `MESSAGE=a\nb` becomes `MESSAGE\n` 03 00 00 00 00 00 00 00 `a\nb\n`.
///
/// Nothing is added: no `CODE_FILE`/`CODE_LINE`/`CODE_FUNC` (the handler sends its own), and no implicit
/// `SYSLOG_IDENTIFIER` (the handler always sends one).
enum JournalEntry {
    /// `fields` are `NAME=value`. Like libsystemd, a field without `=`, with an empty name or with a newline in
    /// its name makes the whole entry invalid, and so does an empty list.
    static func encode(_ fields: [String]) throws(SystemdSocketError) -> [UInt8] {
        guard !fields.isEmpty else { throw .invalidJournalField("") }
        var payload: [UInt8] = []
        payload.reserveCapacity(fields.reduce(0) { $0 + $1.utf8.count + 9 })
        for field in fields {
            let bytes = field.utf8
            guard let equals = bytes.firstIndex(of: UInt8(ascii: "=")), equals != bytes.startIndex,
                !bytes[..<equals].contains(UInt8(ascii: "\n"))
            else { throw .invalidJournalField(field) }
            let value = bytes[bytes.index(after: equals)...]
            if value.contains(UInt8(ascii: "\n")) {
                payload.append(contentsOf: bytes[..<equals])
                payload.append(UInt8(ascii: "\n"))
                withUnsafeBytes(of: UInt64(value.count).littleEndian) { payload.append(contentsOf: $0) }
                payload.append(contentsOf: value)
            } else {
                payload.append(contentsOf: bytes)
            }
            payload.append(UInt8(ascii: "\n"))
        }
        return payload
    }
}
