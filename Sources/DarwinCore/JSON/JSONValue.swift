import CDarwinJSON

/// A JSON value that keeps object member order and the exact spelling of numbers.
///
/// Documents carry fields darwin does not own; keeping order and number lexemes lets such fields
/// round-trip unchanged even after they were decoded.
public enum JSONValue: Sendable, Equatable, Hashable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The string, if this is a string.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number as a `Double`, if this is a number.
    public var doubleValue: Double? {
        if case .number(let n) = self { return n.doubleValue }
        return nil
    }

    /// The number as an `Int`, if this is a number with an integral value that fits.
    public var intValue: Int? {
        if case .number(let n) = self { return n.intValue }
        return nil
    }

    /// The Boolean, if this is `true` or `false`.
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The object, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// A short name of the value's kind, for messages ("a string", "an object", …).
    public var kindDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number: return "a number"
        case .string: return "a string"
        case .array: return "a list"
        case .object: return "a mapping"
        }
    }
}

// MARK: - Literals

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral,
    ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
}

/// A JSON number kept as its literal text, so `1.0` stays `1.0` and big integers stay exact.
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    /// The number as written in JSON.
    public let lexeme: String

    /// Wraps a lexeme that is already a valid JSON number.
    public init(lexeme: String) { self.lexeme = lexeme }

    /// An integer number.
    public init(_ value: Int) { self.lexeme = String(value) }

    /// A floating-point number; non-finite values are not JSON and become `0`.
    public init(_ value: Double) {
        guard value.isFinite else {
            self.lexeme = "0"
            return
        }
        if value == value.rounded(.towardZero), abs(value) < 1e15 {
            // Integral values print without an exponent but keep a fraction so the type survives.
            self.lexeme = String(Int64(value)) + ".0"
        } else {
            self.lexeme = "\(value)"
        }
    }

    /// The value as a `Double`.
    public var doubleValue: Double { Double(lexeme) ?? .nan }

    /// The value as an `Int`, if it is integral and fits.
    public var intValue: Int? {
        if let i = Int(lexeme) { return i }
        let d = doubleValue
        guard d.isFinite, d == d.rounded(.towardZero), abs(d) < 9.0e18 else { return nil }
        return Int(d)
    }

    public var description: String { lexeme }
}

/// A JSON object: ordered members, lookups by key (first occurrence wins).
public struct JSONObject: Sendable, Equatable, Hashable, Sequence {
    /// The members in order.
    public private(set) var members: [(key: String, value: JSONValue)]

    /// An object with the given members.
    public init(_ members: [(key: String, value: JSONValue)] = []) { self.members = members }

    /// The number of members.
    public var count: Int { members.count }

    /// Whether the object has no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The keys in order.
    public var keys: [String] { members.map(\.key) }

    /// The value of the first member named `key`; setting `nil` removes every member of that name.
    public subscript(key: String) -> JSONValue? {
        get {
            for m in members where m.key == key { return m.value }
            return nil
        }
        set {
            if let newValue {
                if let i = members.firstIndex(where: { $0.key == key }) {
                    members[i].value = newValue
                } else {
                    members.append((key: key, value: newValue))
                }
            } else {
                members.removeAll { $0.key == key }
            }
        }
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        guard lhs.members.count == rhs.members.count else { return false }
        for (a, b) in zip(lhs.members, rhs.members) where a.key != b.key || a.value != b.value {
            return false
        }
        return true
    }

    public func hash(into hasher: inout Hasher) {
        for m in members {
            hasher.combine(m.key)
            hasher.combine(m.value)
        }
    }
}

// MARK: - Dotted paths

extension JSONValue {
    /// The value at a dotted path of object keys (`quality.edu`), or `nil`.
    public func value(at path: some Collection<Substring>) -> JSONValue? {
        var current = self
        for key in path {
            guard case .object(let o) = current, let next = o[String(key)] else { return nil }
            current = next
        }
        return current
    }

    /// Sets the value at a dotted path, creating intermediate objects; fails if a non-object is in the way.
    ///
    /// - Returns: `false` when a value on the path is not an object.
    @discardableResult
    public mutating func setValue(_ newValue: JSONValue?, at path: ArraySlice<Substring>) -> Bool {
        guard let first = path.first else {
            if let newValue { self = newValue }
            return true
        }
        var object: JSONObject
        switch self {
        case .object(let o): object = o
        case .null: object = JSONObject()
        default: return false
        }
        let key = String(first)
        if path.count == 1 {
            object[key] = newValue
        } else {
            var child = object[key] ?? .null
            guard child.setValue(newValue, at: path.dropFirst()) else { return false }
            object[key] = child
        }
        self = .object(object)
        return true
    }
}

// MARK: - Parsing

/// A line or value that is not valid JSON.
public struct JSONSyntaxError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The scanner's error code (a `dj_error_code`).
    public let code: Int32
    /// Byte offset of the problem.
    public let offset: Int

    /// A lower-case description with the offset.
    public var description: String { "\(message) at byte \(offset)" }

    /// A lower-case description without the offset.
    public var message: String { String(cString: dj_error_message(code)) }

    /// Whether the problem is invalid UTF-8 rather than JSON grammar.
    public var isUTF8: Bool { code == Int32(DJ_ERR_UTF8.rawValue) }
}

extension JSONValue {
    /// Parses one JSON value from UTF-8 bytes.
    ///
    /// - Throws: ``JSONSyntaxError`` naming the byte offset.
    public static func parse(_ bytes: UnsafeRawBufferPointer) throws(JSONSyntaxError) -> JSONValue {
        guard let base = bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) else {
            throw JSONSyntaxError(code: Int32(DJ_ERR_EMPTY.rawValue), offset: 0)
        }
        var error = dj_error()
        var tokens = [dj_token](repeating: dj_token(), count: 16)
        var n = tokens.withUnsafeMutableBufferPointer { dj_tape(base, bytes.count, $0.baseAddress, $0.count, &error) }
        if n > tokens.count {
            tokens = [dj_token](repeating: dj_token(), count: n)
            n = tokens.withUnsafeMutableBufferPointer { dj_tape(base, bytes.count, $0.baseAddress, $0.count, &error) }
        }
        guard n >= 0 else { throw JSONSyntaxError(code: error.code, offset: error.offset) }
        var index = 0
        return tokens.withUnsafeBufferPointer { build($0, &index, base) }
    }

    /// Parses one JSON value from a byte array.
    public static func parse(_ bytes: [UInt8]) throws(JSONSyntaxError) -> JSONValue {
        let result: Result<JSONValue, JSONSyntaxError> = bytes.withUnsafeBytes { raw in
            do throws(JSONSyntaxError) { return .success(try parse(raw)) } catch { return .failure(error) }
        }
        return try result.get()
    }

    /// Parses one JSON value from a string.
    public static func parse(_ text: String) throws(JSONSyntaxError) -> JSONValue {
        try parse(Array(text.utf8))
    }

    private static func build(
        _ tokens: UnsafeBufferPointer<dj_token>, _ index: inout Int, _ base: UnsafePointer<UInt8>
    ) -> JSONValue {
        let t = tokens[index]
        index += 1
        switch Int32(t.type) {
        case Int32(DJ_NULL.rawValue): return .null
        case Int32(DJ_FALSE.rawValue): return .bool(false)
        case Int32(DJ_TRUE.rawValue): return .bool(true)
        case Int32(DJ_NUMBER.rawValue):
            let s = String(
                decoding: UnsafeBufferPointer(start: base + Int(t.start), count: Int(t.end - t.start)),
                as: UTF8.self)
            return .number(JSONNumber(lexeme: s))
        case Int32(DJ_STRING.rawValue):
            return .string(decodeJSONString(base + Int(t.start), count: Int(t.end - t.start), escaped: t.escaped != 0))
        case Int32(DJ_ARRAY.rawValue):
            var elements: [JSONValue] = []
            elements.reserveCapacity(Int(t.count))
            for _ in 0..<t.count { elements.append(build(tokens, &index, base)) }
            return .array(elements)
        default:
            var members: [(key: String, value: JSONValue)] = []
            members.reserveCapacity(Int(t.count))
            for _ in 0..<t.count {
                let k = tokens[index]
                index += 1
                let key = decodeJSONString(base + Int(k.start), count: Int(k.end - k.start), escaped: k.escaped != 0)
                members.append((key: key, value: build(tokens, &index, base)))
            }
            return .object(JSONObject(members))
        }
    }
}

/// Decodes the body of a validated JSON string (between the quotes).
@inlinable
public func decodeJSONString(_ start: UnsafePointer<UInt8>, count: Int, escaped: Bool) -> String {
    if !escaped {
        return String(decoding: UnsafeBufferPointer(start: start, count: count), as: UTF8.self)
    }
    return String(unsafeUninitializedCapacity: count) { (buffer: UnsafeMutableBufferPointer<UInt8>) -> Int in
        // dj_unescape never writes more bytes than it reads.
        guard let dst = buffer.baseAddress else { return 0 }
        return dj_unescape(start, count, dst)
    }
}
