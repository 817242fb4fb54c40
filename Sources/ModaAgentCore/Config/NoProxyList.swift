/// `NO_PROXY`/`no_proxy` as curl reads it: hosts exempt from the environment's proxies (an explicit
/// `delivery.proxy` takes every request). Entries are separated by commas (or white space):
/// - `*` alone exempts every host;
/// - a domain, bare or with a leading dot (`example.com`, `.example.com`, also `*.example.com`), matches
///   itself and every subdomain (`api.example.com`), never a longer name (`badexample.com`);
/// - an IP address matches that address (IPv6 with or without brackets), not names that resolve to it;
/// - an entry with a port (`example.com:8443`, `[::1]:443`) matches that port only; without, any port.
/// Matching ignores case and a trailing dot. See docs/networks.md.
public struct NoProxyList: Sendable, Equatable {
    struct Entry: Sendable, Equatable {
        var name: String
        var port: Int?
    }

    let matchesEverything: Bool
    let entries: [Entry]

    public init(_ text: String?) {
        var everything = false
        var entries: [Entry] = []
        let tokens = (text ?? "").split { $0 == "," || $0.isWhitespace }
        for token in tokens {
            if token == "*" {
                everything = true
                continue
            }
            if let entry = Self.entry(token) { entries.append(entry) }
        }
        matchesEverything = everything
        self.entries = entries
    }

    public var isEmpty: Bool { !matchesEverything && entries.isEmpty }

    /// Whether a request to `host` (as written in the endpoint URL) and `port` skips the environment's proxy.
    public func exempts(host: String, port: Int) -> Bool {
        if matchesEverything { return true }
        let name = Self.normalized(host)
        guard !name.isEmpty else { return false }
        return entries.contains { entry in
            if let wanted = entry.port, wanted != port { return false }
            if name == entry.name { return true }
            // Addresses match exactly; only names have subdomains.
            guard !entry.name.contains(":"), !Self.isIPv4(entry.name) else { return false }
            return name.hasSuffix("." + entry.name)
        }
    }

    private static func entry(_ token: Substring) -> Entry? {
        var text = Substring(token.lowercased())
        if text.hasPrefix("*.") { text = text.dropFirst(2) }
        while text.hasPrefix(".") { text = text.dropFirst() }
        var port: Int?
        if text.hasPrefix("[") {
            // [v6] or [v6]:port
            guard let close = text.firstIndex(of: "]") else { return nil }
            let after = text[text.index(after: close)...]
            if after.hasPrefix(":") { port = Int(after.dropFirst()) }
            text = text[text.index(after: text.startIndex)..<close]
        } else if let colon = text.lastIndex(of: ":"), text.firstIndex(of: ":") == colon {
            // host:port; several colons without brackets is a bare IPv6 address.
            port = Int(text[text.index(after: colon)...])
            text = text[..<colon]
        }
        let name = normalized(String(text))
        return name.isEmpty ? nil : Entry(name: name, port: port)
    }

    private static func normalized(_ host: String) -> String {
        var name = Substring(host.lowercased())
        if name.hasPrefix("["), name.hasSuffix("]") { name = name.dropFirst().dropLast() }
        while name.hasSuffix(".") { name = name.dropLast() }
        return String(name)
    }

    private static func isIPv4(_ text: String) -> Bool {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { UInt8($0) != nil }
    }
}
