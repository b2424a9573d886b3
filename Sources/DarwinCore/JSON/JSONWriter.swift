import CDarwinJSON

/// Compact JSON serialisation into a byte buffer.
///
/// Output is deterministic: members in stored order, no whitespace, non-ASCII written as UTF-8,
/// only `"`, `\` and control characters escaped.
public enum JSONWriter {
    /// Appends `value` as compact JSON.
    public static func write(_ value: JSONValue, into out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: nullBytes)
        case .bool(let b): out.append(contentsOf: b ? trueBytes : falseBytes)
        case .number(let n): out.append(contentsOf: n.lexeme.utf8)
        case .string(let s): writeString(s, into: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, element) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(element, into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, member) in o.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                write(member.value, into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// The compact JSON text of `value`.
    public static func string(_ value: JSONValue) -> String {
        var out: [UInt8] = []
        write(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `s` as a quoted, escaped JSON string.
    public static func writeString(_ s: String, into out: inout [UInt8]) {
        var s = s
        s.withUTF8 { utf8 in writeString(utf8, into: &out) }
    }

    /// Appends UTF-8 bytes as a quoted, escaped JSON string.
    public static func writeString(_ utf8: UnsafeBufferPointer<UInt8>, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        if let base = utf8.baseAddress, utf8.count > 0 {
            if dj_is_plain(base, utf8.count) != 0 {
                out.append(contentsOf: utf8)
            } else {
                let scratch = UnsafeMutablePointer<UInt8>.allocate(capacity: utf8.count * 6)
                defer { scratch.deallocate() }
                let written = dj_escape(base, utf8.count, scratch)
                out.append(contentsOf: UnsafeBufferPointer(start: scratch, count: written))
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static let nullBytes = Array("null".utf8)
    private static let trueBytes = Array("true".utf8)
    private static let falseBytes = Array("false".utf8)
}
