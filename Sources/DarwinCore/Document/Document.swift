import CDarwinJSON

/// One document: a JSON object with at least `id` and `text`, keeping every other field it came with.
///
/// A document parsed from a line keeps that line's bytes. Fields are decoded only when a step asks
/// for them, and fields nobody changed are written back byte for byte, so unknown fields, their
/// order and their exact spelling survive any number of stages.
public struct Document: @unchecked Sendable {
    // @unchecked: `cache` is a private class mutated only through this value; a document is used by one
    // task at a time and never shared between threads while being processed.

    /// The document's identifier (a JSON string, or a number converted to its literal text).
    public private(set) var id: String

    @usableFromInline var line: [UInt8]
    @usableFromInline var members: [Member]
    private var cache: Cache

    @usableFromInline
    struct Member {
        var key: String
        /// Range of the key's bytes inside the quotes in `line`; `nil` for keys added after parsing.
        var rawKey: Range<Int>?
        var value: Value
    }

    @usableFromInline
    enum Value {
        /// The value's bytes in `line`, with its scanner type and whether a string holds escapes.
        case raw(Range<Int>, type: UInt8, escaped: Bool)
        case decoded(JSONValue)
    }

    private final class Cache {
        var text: String?
        var textBytes: Int
        /// Values computed from the text (word splits, line indexes), dropped when the text changes.
        var derived: [ObjectIdentifier: AnyObject] = [:]
        init(text: String) {
            self.text = text
            self.textBytes = text.utf8.count
        }
        init(textBytes: Int) { self.textBytes = textBytes }
    }

    /// A new document with the given fields, in this order: `id`, `text`, then `fields`.
    public init(id: String, text: String, fields: [(key: String, value: JSONValue)] = []) {
        self.id = id
        self.line = []
        self.members = [
            Member(key: "id", rawKey: nil, value: .decoded(.string(id))),
            Member(key: "text", rawKey: nil, value: .decoded(.string(text))),
        ]
        for f in fields where f.key != "id" && f.key != "text" {
            members.append(Member(key: f.key, rawKey: nil, value: .decoded(f.value)))
        }
        self.cache = Cache(text: text)
    }

    // MARK: - Parsing

    /// Parses one JSONL line.
    ///
    /// - Parameters:
    ///   - line: the line's bytes, without the newline.
    ///   - scratch: reusable member buffer; keep one per reader to avoid allocations.
    /// - Throws: ``DocumentError`` for invalid JSON or UTF-8, a non-object, or a missing or mistyped
    ///   `id` or `text`.
    public static func parse(
        _ line: UnsafeRawBufferPointer, scratch: inout [dj_member], idKey: String = "id", textKey: String = "text"
    ) throws(DocumentError) -> Document {
        guard let base = line.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw DocumentError.json(JSONSyntaxError(code: Int32(DJ_ERR_EMPTY.rawValue), offset: 0))
        }
        if scratch.count < 16 { scratch = [dj_member](repeating: dj_member(), count: 16) }
        var error = dj_error()
        var n = scratch.withUnsafeMutableBufferPointer {
            dj_scan_object(base, line.count, $0.baseAddress, $0.count, &error)
        }
        if n > scratch.count {
            scratch = [dj_member](repeating: dj_member(), count: n)
            n = scratch.withUnsafeMutableBufferPointer {
                dj_scan_object(base, line.count, $0.baseAddress, $0.count, &error)
            }
        }
        guard n >= 0 else { throw .json(JSONSyntaxError(code: error.code, offset: error.offset)) }

        let renamesID = idKey != "id", renamesText = textKey != "text"
        var members: [Member] = []
        members.reserveCapacity(n)
        var id: String?
        var sawText = false
        var textBytes = 0
        for i in 0..<n {
            let m = scratch[i]
            var key = decodeJSONString(
                base + Int(m.key_start), count: Int(m.key_end - m.key_start),
                escaped: m.key_escaped != 0)
            let range = Int(m.value_start)..<Int(m.value_end)
            var rawKey: Range<Int>? = Int(m.key_start)..<Int(m.key_end)
            // Other names for id and text (input.fields) become `id` and `text`; the originals go.
            if renamesID && key == "id" || renamesText && key == "text" { continue }
            if renamesID && key == idKey {
                key = "id"
                rawKey = nil
            } else if renamesText && key == textKey {
                key = "text"
                rawKey = nil
            }
            if key == "id", id == nil {
                switch Int32(m.value_type) {
                case Int32(DJ_STRING.rawValue):
                    id = decodeJSONString(
                        base + range.lowerBound + 1, count: range.count - 2,
                        escaped: m.value_escaped != 0)
                case Int32(DJ_NUMBER.rawValue):
                    id = String(
                        decoding: UnsafeBufferPointer(start: base + range.lowerBound, count: range.count),
                        as: UTF8.self)
                default:
                    throw .wrongType(field: "id", expected: "a string or a number")
                }
            } else if key == "text", !sawText {
                guard Int32(m.value_type) == Int32(DJ_STRING.rawValue) else {
                    throw .wrongType(field: "text", expected: "a string")
                }
                sawText = true
                textBytes = Int(m.value_decoded_length)
            }
            members.append(
                Member(key: key, rawKey: rawKey, value: .raw(range, type: m.value_type, escaped: m.value_escaped != 0)))
        }
        guard let id else { throw .missingField(idKey) }
        guard sawText else { throw .missingField(textKey) }
        return Document(id: id, line: Array(line), members: members, textBytes: textBytes)
    }

    /// Parses one JSONL line held in a byte array.
    public static func parse(_ line: [UInt8]) throws(DocumentError) -> Document {
        var scratch: [dj_member] = []
        let result: Result<Document, DocumentError> = line.withUnsafeBytes { raw in
            do throws(DocumentError) { return .success(try parse(raw, scratch: &scratch)) } catch {
                return .failure(error)
            }
        }
        return try result.get()
    }

    /// Parses one JSONL line held in a string.
    public static func parse(_ line: String) throws(DocumentError) -> Document {
        try parse(Array(line.utf8))
    }

    private init(id: String, line: [UInt8], members: [Member], textBytes: Int) {
        self.id = id
        self.line = line
        self.members = members
        self.cache = Cache(textBytes: textBytes)
    }

    // MARK: - Fields

    /// The document's text.
    public var text: String {
        get {
            if let t = cache.text { return t }
            let t = decodeMember(named: "text")?.stringValue ?? ""
            cache.text = t
            return t
        }
        set {
            cache = Cache(text: newValue)
            setMember("text", .string(newValue))
        }
    }

    /// A value computed from the text, shared by the steps of a stage until the text changes.
    ///
    /// Steps that need the same expensive analysis (a word split, say) compute it once per document.
    public func derived<T: AnyObject>(_ type: T.Type, _ make: (String) -> T) -> T {
        if let v = cache.derived[ObjectIdentifier(type)] as? T { return v }
        let v = make(text)
        cache.derived[ObjectIdentifier(type)] = v
        return v
    }

    /// Names of the top-level fields, in order.
    public var fieldNames: [String] { members.map(\.key) }

    /// A top-level field; setting `nil` removes it. `id` and `text` cannot be removed.
    public subscript(field: String) -> JSONValue? {
        get { field == "text" ? .string(text) : decodeMember(named: field) }
        set {
            if field == "text" {
                if case .string(let s)? = newValue { text = s }
                return
            }
            if field == "id" {
                guard let newValue, let s = newValue.stringValue ?? newValue.intValue.map(String.init) else { return }
                id = s
            }
            if let newValue {
                setMember(field, newValue)
            } else {
                members.removeAll { $0.key == field }
            }
        }
    }

    /// The `metadata` object (empty when absent or not an object).
    public var metadata: JSONObject {
        get { self["metadata"]?.objectValue ?? JSONObject() }
        set { self["metadata"] = .object(newValue) }
    }

    /// The value at a dotted path such as `metadata.quality.edu` or `source`.
    public func value(atPath path: String) -> JSONValue? {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first, let top = self[String(first)] else { return nil }
        return top.value(at: parts.dropFirst())
    }

    /// Sets the value at a dotted path, creating intermediate objects.
    ///
    /// - Returns: `false` when a value on the path exists and is not an object.
    @discardableResult
    public mutating func setValue(_ value: JSONValue?, atPath path: String) -> Bool {
        let parts = path.split(separator: ".", omittingEmptySubsequences: false)
        guard let first = parts.first else { return false }
        let key = String(first)
        if parts.count == 1 {
            self[key] = value
            return true
        }
        var top = self[key] ?? .null
        guard top.setValue(value, at: parts.dropFirst()) else { return false }
        self[key] = top
        return true
    }

    /// Byte length of the text in UTF-8, known without decoding the text.
    public var textUTF8Count: Int { cache.textBytes }

    // MARK: - Serialisation

    /// Appends the document as one compact JSON object (no newline).
    public func serialize(into out: inout [UInt8]) {
        out.append(UInt8(ascii: "{"))
        line.withUnsafeBufferPointer { src in
            for (i, m) in members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                if let k = m.rawKey {
                    out.append(contentsOf: UnsafeBufferPointer(rebasing: src[(k.lowerBound - 1)..<(k.upperBound + 1)]))
                } else {
                    JSONWriter.writeString(m.key, into: &out)
                }
                out.append(UInt8(ascii: ":"))
                switch m.value {
                case .raw(let r, _, _): out.append(contentsOf: UnsafeBufferPointer(rebasing: src[r]))
                case .decoded(let v): JSONWriter.write(v, into: &out)
                }
            }
        }
        out.append(UInt8(ascii: "}"))
    }

    /// The document as a compact JSON string.
    public var jsonString: String {
        var out: [UInt8] = []
        serialize(into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: - Internals

    private func decodeMember(named key: String) -> JSONValue? {
        guard let m = members.first(where: { $0.key == key }) else { return nil }
        switch m.value {
        case .decoded(let v): return v
        case .raw(let r, let type, let escaped):
            return line.withUnsafeBufferPointer { src -> JSONValue? in
                guard let base = src.baseAddress else { return nil }
                if Int32(type) == Int32(DJ_STRING.rawValue) {
                    return .string(decodeJSONString(base + r.lowerBound + 1, count: r.count - 2, escaped: escaped))
                }
                return try? JSONValue.parse(UnsafeRawBufferPointer(UnsafeBufferPointer(rebasing: src[r])))
            }
        }
    }

    private mutating func setMember(_ key: String, _ value: JSONValue) {
        if let i = members.firstIndex(where: { $0.key == key }) {
            members[i].value = .decoded(value)
        } else {
            members.append(Member(key: key, rawKey: nil, value: .decoded(value)))
        }
    }
}

/// Why a line could not become a document.
public enum DocumentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The line is not a valid JSON object (grammar or UTF-8).
    case json(JSONSyntaxError)
    /// A required field is absent.
    case missingField(String)
    /// A required field has the wrong JSON type.
    case wrongType(field: String, expected: String)

    public var description: String {
        switch self {
        case .json(let e): return e.description
        case .missingField(let f): return "missing required field '\(f)'"
        case .wrongType(let f, let expected): return "field '\(f)' must be \(expected)"
        }
    }

    /// A stable snake_case name for statistics (`malformed_json`, `invalid_utf8`, `missing_id`, …).
    public var kind: String {
        switch self {
        case .json(let e): return e.isUTF8 ? "invalid_utf8" : "malformed_json"
        case .missingField(let f): return "missing_\(f)"
        case .wrongType(let f, _): return "bad_\(f)"
        }
    }
}
