import DarwinCore
import Testing

@Suite struct JSONValueTests {
    @Test func numbersKeepTheirSpelling() throws {
        let v = try JSONValue.parse(#"{"a":1.0,"b":12345678901234567890,"c":-0.5e-3}"#)
        #expect(JSONWriter.string(v) == #"{"a":1.0,"b":12345678901234567890,"c":-0.5e-3}"#)
        #expect(v.objectValue?["a"]?.doubleValue == 1.0)
        #expect(v.objectValue?["a"]?.intValue == 1)
        #expect(v.objectValue?["c"]?.intValue == nil)
    }

    @Test func memberOrderIsKept() throws {
        let text = #"{"z":1,"a":[true,false,null],"m":{"y":"x","b":"c"}}"#
        #expect(JSONWriter.string(try JSONValue.parse(text)) == text)
    }

    @Test func dottedPaths() {
        var v: JSONValue = ["a": ["b": 1]]
        #expect(v.value(at: ["a", "b"]) == 1)
        let created = v.setValue("x", at: ["a", "c", "d"])
        #expect(created)
        #expect(JSONWriter.string(v) == #"{"a":{"b":1,"c":{"d":"x"}}}"#)
        let blocked = v.setValue(2, at: ["a", "b", "c"])
        #expect(!blocked, "b is a number, not an object")
    }

    @Test func doublesPrintAsValidJSON() throws {
        for d in [0.1, 1e-7, 123456.75, 3.0, -2.5, 1e300] {
            let s = JSONWriter.string(.number(JSONNumber(d)))
            #expect(try JSONValue.parse(s).doubleValue == d, "\(s)")
        }
    }

    @Test func syntaxErrorsCarryOffsets() {
        #expect(throws: JSONSyntaxError.self) { try JSONValue.parse("[1, 2") }
        do {
            _ = try JSONValue.parse(#"{"a": x}"#)
        } catch {
            #expect(error.offset == 6)
            #expect(error.message == "malformed JSON")
        }
    }
}
