import DarwinCore
import Testing

@Suite struct DocumentTests {
    @Test func unknownFieldsRoundTripByteForByte() throws {
        let line =
            #"{"id":"x/1","text":"Line one\nLine \"two\" — ünïcode 中文","source":"s","weird":{"k":[1,2.50,{"deep":null}]},"n":1e5,"added":"2024-01-01T00:00:00Z"}"#
        let doc = try Document.parse(line)
        #expect(doc.jsonString == line)
        #expect(doc.id == "x/1")
        #expect(doc.text == "Line one\nLine \"two\" — ünïcode 中文")
        #expect(doc.textUTF8Count == doc.text.utf8.count)
        #expect(doc.fieldNames == ["id", "text", "source", "weird", "n", "added"])
    }

    @Test func whitespaceBetweenTokensIsCompactedButValuesKept() throws {
        let doc = try Document.parse(#" { "id" : "a" , "text" : "t" , "m" : { "x" : 1 } } "#)
        #expect(doc.jsonString == #"{"id":"a","text":"t","m":{ "x" : 1 }}"#)
    }

    @Test func changesKeepOtherFields() throws {
        var doc = try Document.parse(#"{"text":"old","id":7,"metadata":{"keep":true},"z":0}"#)
        #expect(doc.id == "7")
        doc.text = "new \"text\"\n"
        doc.setValue(0.97, atPath: "metadata.quality.edu")
        doc["source"] = "web"
        #expect(
            doc.jsonString
                == #"{"text":"new \"text\"\n","id":7,"metadata":{"keep":true,"quality":{"edu":0.97}},"z":0,"source":"web"}"#
        )
        #expect(doc.textUTF8Count == 11)
        let copy = doc
        doc.text = "changed"
        #expect(copy.text == "new \"text\"\n", "copies do not share text changes")
    }

    @Test(arguments: [
        (#"{"text":"t"}"#, "missing_id"),
        (#"{"id":"a"}"#, "missing_text"),
        (#"{"id":"a","text":5}"#, "bad_text"),
        (#"{"id":[1],"text":"t"}"#, "bad_id"),
        (#"{"id":"a","text":"t""#, "malformed_json"),
        ("[]", "malformed_json"),
    ])
    func badLines(line: String, kind: String) {
        do {
            _ = try Document.parse(line)
            Issue.record("\(line) parsed")
        } catch {
            #expect(error.kind == kind, "\(line): \(error)")
        }
    }

    @Test func invalidUTF8IsItsOwnKind() {
        var bytes = Array(#"{"id":"a","text":"x"#.utf8)
        bytes.append(0xFF)
        bytes += Array(#""}"#.utf8)
        do {
            _ = try Document.parse(bytes)
            Issue.record("parsed invalid UTF-8")
        } catch {
            #expect(error.kind == "invalid_utf8")
            #expect(error.description == "invalid UTF-8 at byte 19")
        }
    }

    @Test func lineageRecordsStagesAndLevel() throws {
        var doc = try Document.parse(#"{"id":"a","text":"t","darwin":{"level":3,"history":["L3:edu"],"extra":1}}"#)
        doc.recordPassage(stage: "L2b", level: .l2, steps: ["min_length", "sample"])
        let darwin = doc["darwin"]?.objectValue
        #expect(darwin?["level"]?.intValue == 3, "level is the highest level passed")
        #expect(darwin?["history"] == ["L3:edu", "L2b:min_length", "L2b:sample"])
        #expect(darwin?["extra"] == 1)
        doc.recordRejection(stage: "L2b", step: "sample", rule: "sample:not_sampled", detail: nil)
        #expect(doc.rejection?.rule == "sample:not_sampled")
    }

    @Test func newDocuments() {
        let doc = Document(id: "n", text: "hello", fields: [("source", "x"), ("id", "ignored")])
        #expect(doc.jsonString == #"{"id":"n","text":"hello","source":"x"}"#)
    }
}
