import CDarwinJSON
import DarwinCore
import Testing

/// The C scanner behind every line read: grammar, UTF-8, offsets, escapes.
@Suite struct JSONScannerTests {
    func scan(_ s: String) -> (count: Int, members: [dj_member], error: dj_error) {
        var members = [dj_member](repeating: dj_member(), count: 8)
        var error = dj_error()
        let bytes = Array(s.utf8)
        let n = bytes.withUnsafeBufferPointer { b in
            members.withUnsafeMutableBufferPointer {
                dj_scan_object(b.baseAddress, b.count, $0.baseAddress, $0.count, &error)
            }
        }
        return (n, members, error)
    }

    func scanBytes(_ bytes: [UInt8]) -> dj_error {
        var members = [dj_member](repeating: dj_member(), count: 8)
        var error = dj_error()
        _ = bytes.withUnsafeBufferPointer { b in
            members.withUnsafeMutableBufferPointer {
                dj_scan_object(b.baseAddress, b.count, $0.baseAddress, $0.count, &error)
            }
        }
        return error
    }

    @Test func membersAndRanges() {
        let line = #"  {"id": "a\"b", "n": -1.5e3, "o": {"x": [1, true, null]}, "t": "héllo"} "#
        let r = scan(line)
        #expect(r.count == 4)
        let bytes = Array(line.utf8)
        func slice(_ a: UInt32, _ b: UInt32) -> String { String(decoding: bytes[Int(a)..<Int(b)], as: UTF8.self) }
        #expect(slice(r.members[0].key_start, r.members[0].key_end) == "id")
        #expect(slice(r.members[0].value_start, r.members[0].value_end) == #""a\"b""#)
        #expect(r.members[0].value_escaped == 1)
        #expect(r.members[0].value_decoded_length == 3)
        #expect(slice(r.members[1].value_start, r.members[1].value_end) == "-1.5e3")
        #expect(Int32(r.members[1].value_type) == Int32(DJ_NUMBER.rawValue))
        #expect(slice(r.members[2].value_start, r.members[2].value_end) == #"{"x": [1, true, null]}"#)
        #expect(Int32(r.members[2].value_type) == Int32(DJ_OBJECT.rawValue))
        #expect(r.members[3].value_decoded_length == 6)
    }

    @Test(
        arguments: [
            (#"{"a":1"#, DJ_ERR_SYNTAX, 6),
            (#"{"a" 1}"#, DJ_ERR_SYNTAX, 5),
            (#"{"a":01}"#, DJ_ERR_SYNTAX, 6),
            (#"{"a":1,}"#, DJ_ERR_SYNTAX, 7),
            (#"{"a":"x\q"}"#, DJ_ERR_ESCAPE, 7),
            (#"{"a":"\u12G4"}"#, DJ_ERR_ESCAPE, 6),
            ("{\"a\":\"x\ty\"}", DJ_ERR_CONTROL, 7),
            (#"[1,2]"#, DJ_ERR_NOT_OBJECT, 0),
            (#"{"a":1} x"#, DJ_ERR_TRAILING, 8),
            ("   ", DJ_ERR_EMPTY, 3),
            (#"{"a":tru}"#, DJ_ERR_SYNTAX, 5),
            (#"{"a":-}"#, DJ_ERR_NUMBER, 6),
            (#"{"a":1.}"#, DJ_ERR_NUMBER, 7),
            (#"{"a":"unterminated}"#, DJ_ERR_SYNTAX, 5),
        ] as [(String, dj_error_code, Int)])
    func malformed(line: String, code: dj_error_code, offset: Int) {
        let r = scan(line)
        #expect(r.count == -1)
        #expect(r.error.code == Int32(code.rawValue), "\(line): got code \(r.error.code), expected \(code.rawValue)")
        #expect(r.error.offset == offset, "\(line): got offset \(r.error.offset), expected \(offset)")
    }

    @Test(arguments: [
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC0, 0xAF, 0x22, 0x7D] as [UInt8],  // overlong "/"
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x7D],  // UTF-16 surrogate
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xE2, 0x82, 0x22, 0x7D],  // truncated sequence
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xF4, 0x90, 0x80, 0x80, 0x22, 0x7D],  // above U+10FFFF
        [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xFF, 0x22, 0x7D],  // never valid
    ])
    func invalidUTF8(bytes: [UInt8]) {
        let e = scanBytes(bytes)
        #expect(e.code == Int32(DJ_ERR_UTF8.rawValue))
        #expect(e.offset == 6)
    }

    @Test func depthLimit() {
        let deep = #"{"a":"# + String(repeating: "[", count: 600) + String(repeating: "]", count: 600) + "}"
        #expect(scan(deep).error.code == Int32(DJ_ERR_DEPTH.rawValue))
        let ok = #"{"a":"# + String(repeating: "[", count: 100) + String(repeating: "]", count: 100) + "}"
        #expect(scan(ok).count == 1)
    }

    @Test(arguments: [
        (#"a\nb\tc\"d\\e\/f"#, "a\nb\tc\"d\\e/f"),
        (#"\u00e9\u4e2d\ud83d\ude00"#, "é中😀"),
        (#"lone \ud800 high"#, "lone \u{FFFD} high"),
        (#"lone \udc00 low"#, "lone \u{FFFD} low"),
        (#"\ud800\u0041"#, "\u{FFFD}A"),
        (#"\u0000x"#, "\u{0}x"),
    ])
    func unescape(escaped: String, expected: String) throws {
        let line = #"{"t":""# + escaped + #""}"#
        let r = scan(line)
        #expect(r.count == 1)
        let doc = try JSONValue.parse(line)
        #expect(doc.objectValue?["t"]?.stringValue == expected)
        #expect(Int(r.members[0].value_decoded_length) == expected.utf8.count)
    }

    @Test func escapeRoundTrip() throws {
        let texts = [
            "plain", "quote \" and \\ backslash", "controls \u{1}\u{1F}\n\r\t\u{8}\u{C}", "日本語 😀 \u{2028}", "",
        ]
        for t in texts {
            var out: [UInt8] = []
            JSONWriter.writeString(t, into: &out)
            let back = try JSONValue.parse(out)
            #expect(back.stringValue == t)
        }
        var out: [UInt8] = []
        JSONWriter.writeString("a\u{1}b", into: &out)
        #expect(String(decoding: out, as: UTF8.self) == #""a\u0001b""#)
    }
}
