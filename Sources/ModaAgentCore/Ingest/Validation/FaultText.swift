/// Formatting of client-supplied values inside fault messages: short enough to read in a reply line,
/// quoted so that spaces and quotes in them stay unambiguous.
enum FaultText {
    static let maxShownCharacters = 40

    static func shortened(_ text: String) -> String {
        guard text.count > maxShownCharacters else { return text }
        return String(text.prefix(maxShownCharacters)) + "…"
    }

    /// `text` shortened and in double quotes, with quotes, backslashes and control characters escaped.
    /// `truncated` says that `text` is already only the start of the value.
    static func quoted(_ text: String, truncated: Bool = false) -> String {
        let shown = text.count > maxShownCharacters ? String(text.prefix(maxShownCharacters)) : text
        let result = JSONText.quoted(shown)
        return truncated || text.count > maxShownCharacters ? result + "…" : result
    }
}
