/// The fields of a call transcript entry.
enum TranscriptSchema {
    static let fields: [FieldSpec<TranscriptField>] = [
        FieldSpec(.role, .string, required: true),
        FieldSpec(.content, .string, required: true),
        FieldSpec(.timestamp, .timestamp),
    ]
}
