import Foundation

@testable import ModaAgentCore

/// A seeded, labelled corpus for the built-in detectors: for each, true findings and look-alikes that must
/// not be flagged (the shapes docs/redaction.md lists), generated so that every run sees the same samples.
struct RedactionCorpus {
    struct Sample {
        var text: String
        var isFinding: Bool
        var kind: String
    }

    var random: SeededRandom

    init(seed: UInt64) { random = SeededRandom(seed: seed) }

    mutating func samples(for detector: BuiltInDetector, count: Int) -> [Sample] {
        var samples: [Sample] = []
        for index in 0..<count {
            let (truth, truthKind) = finding(detector, index)
            samples.append(Sample(text: truth, isFinding: true, kind: truthKind))
            let (fake, fakeKind) = lookAlike(detector, index)
            samples.append(Sample(text: fake, isFinding: false, kind: fakeKind))
        }
        return samples
    }

    // MARK: True findings

    mutating func finding(_ detector: BuiltInDetector, _ index: Int) -> (String, String) {
        switch detector {
        case .paymentCard:
            let card = validCard(index)
            return (formatCard(card, style: index / 7), "card")
        case .email: return (email(), "address")
        case .phone: return phone(index)
        case .usSSN:
            var area = random.int(1...899)
            while area == 666 { area = random.int(1...899) }
            return (String(format: "%03d-%02d-%04d", area, random.int(1...99), random.int(1...9999)), "ssn")
        case .iban:
            let iban = validIBAN(index)
            return (index % 2 == 0 ? iban : grouped(iban), "iban")
        case .ipAddress: return ipAddress(index)
        case .secrets: return secret(index)
        }
    }

    mutating func validCard(_ index: Int) -> [Int] {
        let networks: [(prefix: String, length: Int)] = [
            ("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("2720", 16), ("34", 15), ("37", 15), ("6011", 16),
            ("65", 16), ("3530", 16), ("36", 14), ("4", 13), ("622126", 16), ("4", 19),
        ]
        let network = networks[index % networks.count]
        var digits = network.prefix.map { Int(String($0)) ?? 0 }
        while digits.count < network.length - 1 { digits.append(random.int(0...9)) }
        digits.append(Self.luhnCheckDigit(digits))
        return digits
    }

    static func luhnCheckDigit(_ body: [Int]) -> Int {
        var sum = 0
        for (position, digit) in body.reversed().enumerated() {
            var value = digit
            if position % 2 == 0 {
                value *= 2
                if value > 9 { value -= 9 }
            }
            sum += value
        }
        return (10 - sum % 10) % 10
    }

    func formatCard(_ digits: [Int], style: Int) -> String {
        let text = digits.map(String.init).joined()
        switch style % 3 {
        case 0: return text
        default:
            let separator = style % 3 == 1 ? " " : "-"
            let sizes = digits.count == 15 ? [4, 6, 5] : digits.count == 14 ? [4, 6, 4] : [4, 4, 4, 4, 3]
            var groups: [String] = []
            var rest = Substring(text)
            for size in sizes where !rest.isEmpty {
                groups.append(String(rest.prefix(size)))
                rest = rest.dropFirst(size)
            }
            return groups.joined(separator: separator)
        }
    }

    mutating func email() -> String {
        let locals = ["jane.doe", "j.smith+news", "support", "first_last", "a1b2c3", "maria-luisa", "o.k"]
        let domains = ["example.com", "mail.example.org", "corp.co.uk", "uni-bonn.de", "x.io", "sub.domain.travel"]
        return "\(random.pick(locals))\(random.int(0...99))@\(random.pick(domains))"
    }

    mutating func phone(_ index: Int) -> (String, String) {
        let area = random.int(201...989)
        let exchange = random.int(200...999)
        let line = random.int(0...9999)
        switch index % 8 {
        case 0: return (String(format: "+1%03d%03d%04d", area, exchange, line), "e164")
        case 1: return (String(format: "+1 %03d %03d %04d", area, exchange, line), "e164 spaced")
        case 2: return (String(format: "+44 20 %04d %04d", random.int(1000...9999), line), "uk e164")
        case 3: return (String(format: "(%03d) %03d-%04d", area, exchange, line), "us parens")
        case 4: return (String(format: "%03d-%03d-%04d", area, exchange, line), "us dashes")
        case 5: return (String(format: "%03d.%03d.%04d", area, exchange, line), "us dots")
        case 6: return (String(format: "020 %04d %04d", random.int(1000...9999), line), "uk national")
        default: return (String(format: "%03d%03d%04d", area, exchange, line), "us digits")
        }
    }

    mutating func validIBAN(_ index: Int) -> String {
        let layouts: [(country: String, bban: String)] = [
            ("DE", "dddddddddddddddddd"), ("GB", "AAAAdddddddddddddd"), ("FR", "dddddddddddddddddddddd1"),
            ("NL", "AAAAdddddddddd"), ("ES", "dddddddddddddddddddd"), ("IT", "Adddddddddddddddddddddd"),
            ("CH", "ddddddddddddddddd"), ("BE", "dddddddddddd"),
        ]
        let layout = layouts[index % layouts.count]
        var bban = ""
        for character in layout.bban {
            switch character {
            case "A": bban.append(Character(UnicodeScalar(UInt8(random.int(65...90)))))
            default: bban.append(Character(String(random.int(0...9))))
            }
        }
        let check = 98 - Self.mod97(bban + layout.country + "00")
        return layout.country + String(format: "%02d", check) + bban
    }

    static func mod97(_ text: String) -> Int {
        var remainder = 0
        for character in text.utf8 {
            if character >= 65 {
                remainder = (remainder * 100 + Int(character) - 55) % 97
            } else {
                remainder = (remainder * 10 + Int(character) - 48) % 97
            }
        }
        return remainder
    }

    func grouped(_ text: String) -> String {
        var groups: [String] = []
        var rest = Substring(text)
        while !rest.isEmpty {
            groups.append(String(rest.prefix(4)))
            rest = rest.dropFirst(4)
        }
        return groups.joined(separator: " ")
    }

    mutating func ipAddress(_ index: Int) -> (String, String) {
        func hex() -> String { String(random.int(0...0xFFFF), radix: 16) }
        switch index % 5 {
        case 0, 1:
            return ((0..<4).map { _ in String(random.int(0...255)) }.joined(separator: "."), "ipv4")
        case 2: return ((0..<8).map { _ in hex() }.joined(separator: ":"), "ipv6 full")
        case 3: return ("2001:db8::\(hex()):\(hex())", "ipv6 compressed")
        default: return ("::ffff:192.0.2.\(random.int(1...254))", "ipv6 with ipv4")
        }
    }

    mutating func secret(_ index: Int) -> (String, String) {
        let alnum = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        let upperDigits = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
        let urlSafe = alnum + ["-", "_"]
        func string(_ alphabet: [Character], _ count: Int) -> String {
            var text = String((0..<count).map { _ in random.pick(alphabet) })
            if !text.contains(where: \.isNumber) { text.removeLast(); text.append("7") }
            return text
        }
        switch index % 12 {
        case 0: return ("sk-" + string(alnum, 48), "openai")
        case 1: return ("sk-proj-" + string(urlSafe, 64), "openai project")
        case 2: return ("sk-ant-api03-" + string(urlSafe, 93), "anthropic")
        case 3: return ("AKIA" + string(upperDigits, 16), "aws")
        case 4: return ("ASIA" + string(upperDigits, 16), "aws session")
        case 5: return ("ghp_" + string(alnum, 36), "github")
        case 6: return ("github_pat_" + string(alnum + ["_"], 82), "github fine-grained")
        case 7:
            return (
                "xoxb-\(random.int(100_000...999_999))-\(random.int(100_000...999_999))-" + string(alnum, 24), "slack"
            )
        case 8: return ("AIza" + string(urlSafe, 35), "google")
        case 9: return (random.pick(["sk_live_", "rk_live_"]) + string(alnum, 24), "stripe")
        case 10: return (jwt(header: #"{"alg":"HS256","typ":"JWT"}"#), "jwt")
        default:
            if index % 24 == 11 {
                return ("Bearer " + string(urlSafe + [".", "~"], 40), "bearer")
            }
            let body = (0..<4).map { _ in string(alnum + ["+", "/"], 64) }.joined(separator: "\n")
            return ("-----BEGIN RSA PRIVATE KEY-----\n\(body)\n-----END RSA PRIVATE KEY-----", "pem")
        }
    }

    mutating func jwt(header: String) -> String {
        let payload =
            #"{"sub":"\#(random.int(1000...99999))","name":"Jane","iat":\#(random.int(1_600_000_000...1_700_000_000))}"#
        let signature = Data((0..<32).map { _ in UInt8(random.int(0...255)) })
        return [Data(header.utf8), Data(payload.utf8), signature].map(Self.base64URL).joined(separator: ".")
    }

    static func base64URL(_ data: Data) -> String {
        data.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    // MARK: Look-alikes

    mutating func lookAlike(_ detector: BuiltInDetector, _ index: Int) -> (String, String) {
        switch detector {
        case .paymentCard:
            switch index % 4 {
            case 0:
                var card = validCard(index)
                card[card.count - 1] = (card[card.count - 1] + random.int(1...9)) % 10
                return (formatCard(card, style: index / 4), "fails luhn")
            case 1:
                var digits = [random.pick([1, 7, 8, 9])]
                while digits.count < 15 { digits.append(random.int(0...9)) }
                digits.append(Self.luhnCheckDigit(digits))
                return (formatCard(digits, style: index / 4), "no network")
            case 2:
                let card = validCard(index)
                return (card.map(String.init).joined() + String(random.int(10000...99999)), "longer run")
            default:
                return ((0..<random.int(6...12)).map { _ in String(random.int(0...9)) }.joined(), "short number")
            }
        case .email:
            let samples = [
                "@jane\(random.int(0...999))", "user\(random.int(0...99))@localhost",
                "pkg@\(random.int(1...9)).\(random.int(0...20)).\(random.int(0...9))",
                "lodash@4.\(random.int(0...17)).\(random.int(0...21))", "name\(random.int(0...99))@host", "a @ b.com",
                "team@@corp", "user@domain.c", "@\(random.int(1...9))x.com",
            ]
            let choice = index % samples.count
            return (samples[choice], "not an address \(choice)")
        case .phone:
            switch index % 9 {
            case 0:
                return (
                    String(format: "%04d-%02d-%02d", random.int(1990...2030), random.int(1...12), random.int(1...28)),
                    "date"
                )
            case 1:
                return (
                    String(format: "%02d.%02d.%04d", random.int(1...28), random.int(1...12), random.int(1990...2030)),
                    "date dotted"
                )
            case 2:
                return (
                    String(format: "%02d:%02d:%02d", random.int(0...23), random.int(0...59), random.int(0...59)), "time"
                )
            case 3: return ("\(random.int(1...20)).\(random.int(0...30)).\(random.int(0...99))", "version")
            case 4: return (formatCard(validCard(index), style: 1), "card")
            case 5: return (String(random.int(1_600_000_000...1_800_000_000)), "unix time")
            case 6:
                return (
                    String(
                        format: "%04d-%02d-%02d %02d:%02d",
                        random.int(1990...2030),
                        random.int(1...12),
                        random.int(1...28),
                        random.int(0...23),
                        random.int(0...59)
                    ), "date time"
                )
            case 7: return (String(format: "%03d-%04d", random.int(200...999), random.int(0...9999)), "7 digits")
            default: return (String(random.int(1_600_000_000_000...1_800_000_000_000)), "unix ms")
            }
        case .usSSN:
            let area = [0, 666, random.int(900...999), random.int(1...665)][index % 4]
            let group = index % 4 == 3 ? 0 : random.int(1...99)
            let serial =
                index % 8 == 3 ? random.int(1...9999) : (index % 4 == 3 ? random.int(1...9999) : random.int(1...9999))
            if index % 8 == 7 {
                return (String(format: "%03d-%02d-0000", random.int(1...665), random.int(1...99)), "serial 0000")
            }
            return (String(format: "%03d-%02d-%04d", area, group, serial), "bad area or group")
        case .iban:
            let iban = validIBAN(index)
            var bytes = Array(iban.utf8)
            // Change one check digit: the remainder then cannot be 1.
            bytes[3] = bytes[3] == UInt8(ascii: "9") ? UInt8(ascii: "0") : bytes[3] + 1
            let broken = String(decoding: bytes, as: UTF8.self)
            if index % 3 == 2 { return ("XY" + String(broken.dropFirst(2)), "unknown country") }
            return (index % 2 == 0 ? broken : grouped(broken), "fails mod-97")
        case .ipAddress:
            switch index % 6 {
            case 0: return ((0..<5).map { _ in String(random.int(0...20)) }.joined(separator: "."), "five parts")
            case 1:
                return ((0..<6).map { _ in String(format: "%02x", random.int(0...255)) }.joined(separator: ":"), "mac")
            case 2:
                return (
                    String(format: "%02d:%02d:%02d", random.int(0...23), random.int(0...59), random.int(0...59)), "time"
                )
            case 3:
                return (
                    "\(random.int(256...999)).\(random.int(0...255)).\(random.int(0...255)).\(random.int(0...255))",
                    "part over 255"
                )
            case 4: return ("\(random.int(1...9)).\(random.int(0...20)).\(random.int(0...99))", "version")
            default: return (random.pick(["std::vector", "Foo::Bar", "a:b:c", "10:30"]), "not an address")
            }
        case .secrets:
            let hex = Array("0123456789abcdef")
            switch index % 8 {
            case 0: return (String((0..<40).map { _ in random.pick(hex) }), "sha1")
            case 1: return (String((0..<64).map { _ in random.pick(hex) }), "sha256")
            case 2: return (UUID().uuidString.lowercased(), "uuid")
            case 3:
                return (Data((0..<30).map { _ in UInt8(random.int(0...255)) }).base64EncodedString(), "base64")
            case 4: return (jwt(header: #"{"typ":"JWT","kid":"k1"}"#), "jwt-like without alg")
            case 5:
                return (
                    "eyJ" + Self.base64URL(Data((0..<40).map { _ in UInt8(random.int(0...255)) })), "eyJ without dots"
                )
            case 6:
                return (
                    random.pick([
                        "risk-free", "sk-learn", "task-force", "ghp_short", "AKIA", "xoxb-", "Bearer of bad news",
                        "bearer tokens",
                    ]), "word"
                )
            default: return (random.pick(["askance", "skeleton", "AKIAbc", "github_pat", "Basket", "eyJust"]), "word")
            }
        }
    }
}

/// SplitMix64: a small seeded generator, so the corpus is the same on every run.
struct SeededRandom: RandomNumberGenerator {
    var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &self) }

    mutating func pick<T>(_ items: [T]) -> T { items[int(0...(items.count - 1))] }
}
