/// The fields each documented content block type requires. Unknown block types only need a string `type`.
enum ContentBlockSchema {
    static let types: [StaticString] = ["text", "thinking", "tool_use", "tool_result", "image"]

    static let typeRule = FieldRule.string

    /// The rules for a block whose `type` is `types[index]`.
    static func fields(forTypeAt index: Int) -> [FieldSpec<BlockField>] {
        switch index {
        case 0, 1: textFields
        case 2: toolUseFields
        case 3: toolResultFields
        case 4: imageFields
        default: []
        }
    }

    private static let textFields: [FieldSpec<BlockField>] = [FieldSpec(.text, .string, required: true)]

    private static let toolUseFields: [FieldSpec<BlockField>] = [
        FieldSpec(.toolName, .string, required: true),
        FieldSpec(.toolUseID, .string, required: true),
        FieldSpec(.input, .anyValue),
    ]

    private static let toolResultFields: [FieldSpec<BlockField>] = [
        FieldSpec(.toolUseID, .string, required: true),
        FieldSpec(.isError, .boolean),
        FieldSpec(.content, .anyValue),
    ]

    private static let imageFields: [FieldSpec<BlockField>] = [FieldSpec(.source, .anyValue, required: true)]
}
