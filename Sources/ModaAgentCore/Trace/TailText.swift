/// A tail record (`TailRecord`'s JSON line) as `modactl tail` prints it for a person.
public enum TailText {
    public static func render(_ line: String) -> String {
        guard let json = JSONValue.parse(Array(line.utf8)), let kind = json["kind"]?.string else { return line }
        let time = json["at"]?.string.map { String($0.dropFirst(11).prefix(12)) } ?? ""
        let head = time.padded(14) + kind.padded(15)
        switch kind {
        case "accepted":
            let preview = json["preview"]?.string.map { "“\($0)”" } ?? ""
            return head + number(json["id"]).padded(10) + (json["conversationId"]?.string ?? "-").padded(16)
                + (json["messageType"]?.string ?? "").padded(10) + (number(json["bytes"]) + " B").padded(9) + preview
        case "delivered", "dead-lettered":
            let ids = (json["ids"]?.array ?? []).map { run -> String in
                let first = number(run.array?.first)
                let last = number(run.array?.last)
                return first == last ? first : "\(first)-\(last)"
            }
            let latency = json["latencyMs"].map { " in \(number($0)) ms" } ?? ""
            let events = number(json["events"])
            var text =
                head + ids.joined(separator: ",") + " (\(events) \(events == "1" ? "event" : "events"))  "
                + number(json["status"]) + latency + "  request \(json["requestId"]?.string ?? "-")"
            if let message = json["message"]?.string { text += "  " + message }
            return text
        case "rejected":
            return head + (json["source"]?.string ?? "").padded(8) + (json["error"]?.string ?? "")
        case "missed":
            return head + "\(number(json["count"])) records this tail could not take in time were dropped"
        default:
            return line
        }
    }

    private static func number(_ value: JSONValue?) -> String {
        switch value {
        case .int(let number)?: return String(number)
        case .double(let number)?: return number == number.rounded() ? String(Int64(number)) : String(number)
        default: return "-"
        }
    }
}
