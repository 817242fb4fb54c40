/// Protobuf's base-128 varints, for the few places that read or write them without a protobuf library: the
/// OTLP redaction's rewriter, the trace classifier's `partial_success` reader and the delivery log's packed id
/// runs. (`ProtobufFraming` keeps its own reader: it names the fault of a malformed export.)
enum Varint {
    /// The varint at `index`, which moves past it; nil when it is cut off or longer than 64 bits.
    static func read<Bytes: RandomAccessCollection>(_ bytes: Bytes, _ index: inout Bytes.Index) -> UInt64?
    where Bytes.Element == UInt8 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex, shift < 64 {
            let byte = bytes[index]
            bytes.formIndex(after: &index)
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    static func append(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }
}
