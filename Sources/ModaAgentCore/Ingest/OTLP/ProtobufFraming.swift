/// Checks that an OTLP protobuf `ExportTraceServiceRequest` is well framed, without decoding it:
/// every field's tag, varint and length prefix parses and stays inside its message, down through
/// the messages that hold spans. The body is stored and relayed as it came, so this is the whole
/// check (docs/protocol.md: "a protobuf whose field framing does not parse gets 400").
///
///     ExportTraceServiceRequest ─ 1: ResourceSpans ─┬─ 1: Resource (framing)
///                                                    └─ 2: ScopeSpans ─┬─ 1: InstrumentationScope (framing)
///                                                                      └─ 2: Span (framing)
///
/// A field is a varint tag (field number << 3 | wire type) followed by its value: a varint (0), 8
/// bytes (1), a varint length and that many bytes (2), or 4 bytes (5). Groups (3, 4) are not used by
/// OTLP and are refused.
enum ProtobufFraming {
    struct Fault: Error, Sendable, Equatable {
        var message: String
    }

    /// The number of spans, or what is wrong and where.
    static func checkTraceRequest(_ bytes: UnsafeRawBufferPointer) -> Result<Int, Fault> {
        var spans = 0
        do throws(Fault) {
            try walk(bytes, range: 0..<bytes.count, level: 0, path: "", spans: &spans)
        } catch {
            return .failure(error)
        }
        return .success(spans)
    }

    /// The messages below a level, by field number, and how they are named in a fault.
    private static let nested: [(field: UInt64, name: String, descends: Bool)?] = [
        (1, "resourceSpans", true),
        (2, "scopeSpans", true),
        (2, "spans", false),
    ]

    private static func walk(
        _ bytes: UnsafeRawBufferPointer,
        range: Range<Int>,
        level: Int,
        path: String,
        spans: inout Int
    ) throws(Fault) {
        var position = range.lowerBound
        var counts: [UInt64: Int] = [:]
        while position < range.upperBound {
            let start = position
            let tag = try varint(bytes, &position, end: range.upperBound, path: path, what: "a field tag")
            let field = tag >> 3
            let wireType = tag & 7
            guard field > 0, field <= 0x1FFF_FFFF else {
                throw fault(path, start, "field number \(field) is out of range")
            }
            switch wireType {
            case 0:
                _ = try varint(bytes, &position, end: range.upperBound, path: path, what: "field \(field)'s varint")
            case 1, 5:
                let size = wireType == 1 ? 8 : 4
                guard range.upperBound - position >= size else {
                    throw fault(path, start, "field \(field)'s \(size)-byte value runs past the end of the message")
                }
                position += size
            case 2:
                let length = try varint(
                    bytes,
                    &position,
                    end: range.upperBound,
                    path: path,
                    what: "field \(field)'s length"
                )
                guard length <= UInt64(range.upperBound - position) else {
                    throw fault(
                        path,
                        start,
                        "field \(field)'s length \(length) runs past the end of the message "
                            + "(\(range.upperBound - position) bytes left)"
                    )
                }
                let inner = position..<(position + Int(length))
                position = inner.upperBound
                if level < nested.count, let child = nested[level], child.field == field {
                    let index = counts[field, default: 0]
                    counts[field] = index + 1
                    let childPath = path.isEmpty ? "\(child.name)[\(index)]" : "\(path).\(child.name)[\(index)]"
                    if child.descends {
                        try walk(bytes, range: inner, level: level + 1, path: childPath, spans: &spans)
                    } else {
                        spans += 1
                        try walk(bytes, range: inner, level: nested.count, path: childPath, spans: &spans)
                    }
                } else if level > 0, level < nested.count, field == 1 {
                    // Resource and InstrumentationScope: framing only.
                    try walk(
                        bytes,
                        range: inner,
                        level: nested.count,
                        path: path + (level == 1 ? ".resource" : ".scope"),
                        spans: &spans
                    )
                }
            default:
                throw fault(path, start, "field \(field) has wire type \(wireType), which OTLP does not use")
            }
        }
    }

    private static func varint(
        _ bytes: UnsafeRawBufferPointer,
        _ position: inout Int,
        end: Int,
        path: String,
        what: String
    ) throws(Fault) -> UInt64 {
        let start = position
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while position < end {
            let byte = bytes[position]
            position += 1
            if shift == 63 && byte > 1 { throw fault(path, start, "\(what) is a varint over 64 bits") }
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
            if shift > 63 { throw fault(path, start, "\(what) is a varint over 10 bytes") }
        }
        throw fault(path, start, "\(what) is cut off by the end of the message")
    }

    private static func fault(_ path: String, _ offset: Int, _ detail: String) -> Fault {
        Fault(message: "malformed protobuf at byte \(offset)\(path.isEmpty ? "" : " (\(path))"): \(detail)")
    }
}
