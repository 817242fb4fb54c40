/// Checking one recorded field against its rule, and describing values in fault messages.
extension LineParser {
    /// The fault of one field, without its path, or nil if the field is fine.
    /// `blockType` names the content block type whose rule requires the field, for the message.
    func check<Key: KnownKey>(_ spec: FieldSpec<Key>, _ slot: FieldSlot, blockType: StaticString? = nil) -> String? {
        if slot.occurrences > 1 {
            return "duplicate key \"\(spec.key.nameString)\": send each field once"
        }
        guard slot.isPresent else {
            guard spec.required else { return nil }
            let context = blockType.map { " in a block of type \"\($0)\"" } ?? ""
            return "\(spec.key.nameString) is required (\(spec.rule.expectation))\(context)"
        }
        guard satisfies(spec.rule, slot.token) else {
            return "\(spec.key.nameString) must be \(spec.rule.expectation) (got \(describe(slot.token)))"
        }
        return nil
    }

    func satisfies(_ rule: FieldRule, _ token: JSONToken) -> Bool {
        switch rule {
        case .string: token.kind == .string
        case .nonEmptyString: token.kind == .string && token.end - token.start > 2
        case .oneOf(let names): matchIndex(token, among: names) != nil
        case .nonNegativeNumber: token.kind == .number && !token.flag
        case .timestamp: token.kind == .string && isDateTime(token)
        case .object: token.kind == .object
        case .boolean: token.kind == .bool
        case .contentBlocks, .stringArray, .transcript: token.kind == .array
        case .stringOrContentBlocks: token.kind == .string || token.kind == .array
        case .anyValue: true
        }
    }

    /// The index of the name a string token equals, if any.
    func matchIndex(_ token: JSONToken, among names: [StaticString]) -> Int? {
        guard token.kind == .string else { return nil }
        return names.firstIndex { scanner.string(token, equals: $0) }
    }

    private func isDateTime(_ token: JSONToken) -> Bool {
        if token.flag {
            return scanner.decodedString(token).withUnsafeBytes { ISO8601Check.isDateTime($0) }
        }
        return ISO8601Check.isDateTime(UnsafeRawBufferPointer(rebasing: scanner.bytes[token.stringContent]))
    }

    /// A value as a fault message shows it: strings quoted and shortened, containers by kind.
    func describe(_ token: JSONToken) -> String {
        switch token.kind {
        case .string:
            // Enough bytes for the characters a message shows, however long the value.
            let limit = 4 * FaultText.maxShownCharacters + 64
            let prefix = scanner.decodedString(token, limit: limit)
            return FaultText.quoted(String(decoding: prefix, as: UTF8.self), truncated: prefix.count >= limit)
        case .object:
            return "an object"
        case .array:
            return "an array"
        case .absent:
            return "nothing"
        case .null, .bool, .number:
            let end = min(token.end, token.start + FaultText.maxShownCharacters + 1)
            let text = String(
                decoding: UnsafeRawBufferPointer(rebasing: scanner.bytes[token.start..<end]),
                as: UTF8.self
            )
            return FaultText.shortened(text)
        }
    }
}
