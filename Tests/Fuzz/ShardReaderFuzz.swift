// libFuzzer target for the shard reader: decompression (zstd, gzip, plain), line framing, the JSON
// scanner and documents. Built by scripts/fuzz/run-shard-reader-fuzz (`make fuzz`).
//
// Input: first byte picks the file kind (0 plain, 1 zstd, 2 gzip), the rest is the file. Besides not
// crashing, every document read must survive serialise → parse unchanged, and every error record must
// render as JSON.
import DarwinCore
import DarwinIO
import Foundation

private let scratch: String = {
    let dir = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return dir + "/darwin-fuzz-\(getpid())"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzShardReader(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size > 0 else { return 0 }
    let suffix = [".jsonl", ".jsonl.zst", ".jsonl.gz"][Int(data[0]) % 3]
    let path = scratch + suffix
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { return 0 }
    _ = write(fd, data + 1, size - 1)
    close(fd)
    defer { unlink(path) }
    guard let reader = try? ShardReader(path: path, maxLineBytes: 4096) else { return 0 }
    var items = 0
    while let item = try? reader.next() {
        items += 1
        switch item {
        case .document(let doc):
            let line = doc.jsonString
            guard let again = try? Document.parse(line), again.jsonString == line, again.id == doc.id,
                again.text == doc.text, again.textUTF8Count == doc.text.utf8.count
            else {
                fatalError("document does not round-trip: \(line)")
            }
        case .error(let record):
            let json = JSONWriter.string(record.json)
            guard (try? JSONValue.parse(json)) != nil else { fatalError("error record is not JSON: \(json)") }
        }
        if items > 100_000 { break }
    }
    return 0
}
