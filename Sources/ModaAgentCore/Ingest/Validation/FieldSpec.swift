/// One field of a schema: which key, what its value must be, and whether it must be present.
struct FieldSpec<Key: KnownKey>: Sendable {
    let key: Key
    let rule: FieldRule
    let required: Bool

    init(_ key: Key, _ rule: FieldRule, required: Bool = false) {
        self.key = key
        self.rule = rule
        self.required = required
    }
}
