/// The first syntax fault of a line. It ends the scan, so it is the only fault the line reports.
struct JSONSyntaxError: Error, Sendable, Equatable {
    enum Kind: Sendable, Equatable {
        /// What the scanner expected, and what it found instead.
        case malformed(String)
        case unpairedSurrogate
        case tooDeep
    }

    /// Offset within the line, from 0.
    var offset: Int
    var kind: Kind

    var message: String {
        switch kind {
        case .malformed(let detail):
            "malformed JSON at byte \(offset): \(detail)"
        case .unpairedSurrogate:
            "unpaired UTF-16 surrogate escape at byte \(offset): a \\uD800-\\uDBFF escape must be followed by a "
                + "\\uDC00-\\uDFFF escape"
        case .tooDeep:
            "JSON nested deeper than \(JSONScanner.maxDepth) levels (at byte \(offset)): flatten the data"
        }
    }
}
