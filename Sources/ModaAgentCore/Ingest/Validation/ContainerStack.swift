/// One bit per open container (1 = object, 0 = array) for up to 512 levels, kept inline so that skipping
/// deeply nested input neither allocates nor recurses.
struct ContainerStack {
    private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

    static let capacity = 512

    /// `level` is 1-based; callers keep it within `1...capacity` (the scanner's depth limit).
    mutating func set(level: Int, isObject: Bool) {
        let index = level - 1
        guard index >= 0, index < Self.capacity else { return }
        let offset = (index >> 6) * 8
        let bit = UInt64(1) << UInt64(index & 63)
        withUnsafeMutableBytes(of: &words) { raw in
            var word = raw.load(fromByteOffset: offset, as: UInt64.self)
            word = isObject ? (word | bit) : (word & ~bit)
            raw.storeBytes(of: word, toByteOffset: offset, as: UInt64.self)
        }
    }

    func isObject(level: Int) -> Bool {
        let index = level - 1
        guard index >= 0, index < Self.capacity else { return false }
        let offset = (index >> 6) * 8
        let bit = UInt64(1) << UInt64(index & 63)
        return withUnsafeBytes(of: words) { raw in
            raw.load(fromByteOffset: offset, as: UInt64.self) & bit != 0
        }
    }
}
