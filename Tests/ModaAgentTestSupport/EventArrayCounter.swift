/// Counts the elements of the arrays that sit directly in a request body's root object, i.e. the
/// events of `{"events":[...]}`, across body chunks and without parsing: bracket depth and string
/// state, byte by byte. It trusts the agent to send valid JSON (every event was validated), so it
/// only has to be right for valid input, and fast: a full 300 KB batch costs a few hundred µs.
/// A count-only `MockModaServer` (`MockRecording.countOnly`) counts with it as body chunks arrive.
struct EventArrayCounter {
    private(set) var count = 0
    private var depth = 0
    private var inString = false
    private var escaped = false
    /// Inside an array opened at depth 1 (a value of the root object), at its own level.
    private var inRootArray = false
    /// After `[` or `,` in that array: the next value starts an element.
    private var expectElement = false

    mutating func consume(_ bytes: UnsafeRawBufferPointer) {
        for byte in bytes {
            if inString {
                if escaped {
                    escaped = false
                } else if byte == UInt8(ascii: "\\") {
                    escaped = true
                } else if byte == UInt8(ascii: "\"") {
                    inString = false
                }
                continue
            }
            switch byte {
            case 0x20, 0x09, 0x0A, 0x0D:
                break
            case UInt8(ascii: "\""):
                startValue()
                inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                startValue()
                depth += 1
                if depth == 2, byte == UInt8(ascii: "[") {
                    inRootArray = true
                    expectElement = true
                }
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                if depth == 2 { inRootArray = false }
                depth -= 1
            case UInt8(ascii: ","):
                if depth == 2, inRootArray { expectElement = true }
            default:
                startValue()
            }
        }
    }

    /// A value begins here: count it if it is an element of a root-level array.
    private mutating func startValue() {
        if depth == 2, inRootArray, expectElement {
            count += 1
            expectElement = false
        }
    }
}
