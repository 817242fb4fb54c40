/// The scheme, host and port of an endpoint URL: what a proxy decision looks at.
struct EndpointAddress: Sendable, Equatable {
    var isHTTPS: Bool
    /// As written, lower-cased, IPv6 without brackets.
    var host: String
    var port: Int

    /// Nil when `url` is not an http:// or https:// URL with a host (the config refuses those).
    init?(_ url: String) {
        guard let schemeEnd = url.firstRange(of: "://") else { return nil }
        switch url[..<schemeEnd.lowerBound].lowercased() {
        case "https": isHTTPS = true
        case "http": isHTTPS = false
        default: return nil
        }
        var authority = url[schemeEnd.upperBound...]
        if let end = authority.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) {
            authority = authority[..<end]
        }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        var portText: Substring?
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = String(authority[authority.index(after: authority.startIndex)..<close]).lowercased()
            let after = authority[authority.index(after: close)...]
            if after.hasPrefix(":") { portText = after.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = String(authority[..<colon]).lowercased()
            portText = authority[authority.index(after: colon)...]
        } else {
            host = String(authority).lowercased()
        }
        guard !host.isEmpty else { return nil }
        if let portText, !portText.isEmpty {
            guard let number = Int(portText), (1...65535).contains(number) else { return nil }
            port = number
        } else {
            port = isHTTPS ? 443 : 80
        }
    }
}
