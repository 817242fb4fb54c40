/// A closed set of object keys that a walker records while scanning. `rawValue` indexes a slot buffer, so
/// cases must be numbered 0..<count.
protocol KnownKey: RawRepresentable<Int>, CaseIterable, Sendable {
    /// The key as it appears in JSON.
    var name: StaticString { get }
    static var matcher: KeyMatcher<Self> { get }
}

extension KnownKey {
    static var count: Int { matcher.keyCount }

    var nameString: String { name.description }
}
