// darwin-bench: micro-benchmarks of darwin's hot paths against the obvious alternatives.
//
//   darwin-bench json SHARD...   parse + serialise every line: darwin's scanner vs Foundation's JSONSerialization
//   darwin-bench html extract|parse DIR [OUT.jsonl] [--favor precision|recall] [--runs N]
//                                 every .html page of DIR, one core: charset decoding + main-content extraction,
//                                 or the bare libxml2 parse (the floor); prints pages/s (median of N runs)
import CDarwinHTML
import CDarwinText
import DarwinCore
import DarwinIO
import Foundation

func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// CPU seconds of this process (one thread here): steadier than wall time on a shared machine.
func cpuNow() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

func loadLines(_ paths: [String]) throws -> [[UInt8]] {
    var lines: [[UInt8]] = []
    for p in paths {
        let reader = try ShardReader(path: p)
        while let item = try reader.next() {
            if case .document(let d) = item { lines.append(Array(d.jsonString.utf8)) }
        }
    }
    return lines
}

func benchJSON(_ paths: [String]) throws {
    let lines = try loadLines(paths)
    let bytes = lines.reduce(0) { $0 + $1.count }
    let mb = Double(bytes) / 1e6
    print("json: \(lines.count) lines, \(String(format: "%.0f", mb)) MB (decompressed in advance; one thread)")

    // darwin: validate + index the line, decode the text, add a field, serialise.
    var best = Double.infinity
    var sink = 0
    for _ in 0..<3 {
        let t0 = now()
        var out: [UInt8] = []
        out.reserveCapacity(1 << 20)
        for l in lines {
            var doc = try Document.parse(l)
            sink &+= doc.text.utf8.count
            doc.setValue(1, atPath: "metadata.seen")
            out.removeAll(keepingCapacity: true)
            doc.serialize(into: &out)
            sink &+= out.count
        }
        best = min(best, now() - t0)
    }
    let darwinRate = mb / best

    // Foundation: JSONSerialization to a dictionary and back.
    var bestF = Double.infinity
    let sampleCount = min(lines.count, 20_000)
    var fbytes = 0
    for l in lines.prefix(sampleCount) { fbytes += l.count }
    let datas = lines.prefix(sampleCount).map { Data($0) }
    let t0 = now()
    for d in datas {
        guard var o = try JSONSerialization.jsonObject(with: d) as? [String: Any] else { continue }
        sink &+= (o["text"] as? String)?.utf8.count ?? 0
        var m = o["metadata"] as? [String: Any] ?? [:]
        m["seen"] = 1
        o["metadata"] = m
        sink &+= try JSONSerialization.data(withJSONObject: o).count
    }
    bestF = now() - t0
    let foundationRate = Double(fbytes) / 1e6 / bestF
    print(String(format: "  darwin Document.parse + serialize: %7.0f MB/s", darwinRate))
    print(
        String(format: "  Foundation JSONSerialization:      %7.0f MB/s (first %d lines)", foundationRate, sampleCount))
    print(String(format: "  ratio: %.1f×  (checksum %d)", darwinRate / foundationRate, sink % 1000))
}

/// Prints, for each document, its id and its spaCy-compatible words separated by U+001F (for comparisons).
func dumpWords(_ paths: [String]) throws {
    for p in paths {
        let reader = try ShardReader(path: p)
        while let item = try reader.next() {
            guard case .document(let d) = item else { continue }
            var text = d.text
            let words: [String] = text.withUTF8 { buf in
                var toks = [dt_token](repeating: dt_token(), count: max(16, buf.count / 2))
                let n = toks.withUnsafeMutableBufferPointer {
                    dt_tokenize_en(buf.baseAddress, buf.count, $0.baseAddress, $0.count, 0)
                }
                if n > toks.count {
                    toks = [dt_token](repeating: dt_token(), count: n)
                    _ = toks.withUnsafeMutableBufferPointer {
                        dt_tokenize_en(buf.baseAddress, buf.count, $0.baseAddress, $0.count, 0)
                    }
                }
                return toks.prefix(n).map {
                    String(decoding: UnsafeBufferPointer(rebasing: buf[Int($0.start)..<Int($0.end)]), as: UTF8.self)
                }
            }
            print(d.id + "\t" + words.joined(separator: "\u{1F}"))
        }
    }
}

func benchHTML(_ args: [String]) throws {
    guard args.count >= 2 else { throw CocoaError(.fileReadUnknown) }
    let mode = args[0], dir = args[1]
    var out: String? = nil
    var favor: Int32 = 0
    var runs = 1
    var i = 2
    while i < args.count {
        switch args[i] {
        case "--favor":
            favor = args[i + 1] == "precision" ? 1 : args[i + 1] == "recall" ? 2 : 0
            i += 1
        case "--runs":
            runs = Int(args[i + 1]) ?? 1
            i += 1
        default: out = args[i]
        }
        i += 1
    }
    let names = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
        $0.hasSuffix(".html") || $0.hasSuffix(".htm")
    }.sorted()
    let pages = try names.map { try [UInt8](Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0))) }
    var options = dh_options(keep_links: 1, keep_tables: 1, keep_images: 0, favor: favor, max_depth: 256)
    var texts = [String](repeating: "", count: pages.count)
    var times: [Double] = []
    for _ in 0..<runs {
        let start = cpuNow()
        for (k, page) in pages.enumerated() {
            page.withUnsafeBufferPointer { b in
                guard let base = b.baseAddress else { return }
                let raw = UnsafeRawPointer(base).assumingMemoryBound(to: CChar.self)
                if mode == "parse" {
                    _ = dh_parse_only(raw, b.count)
                    return
                }
                var decoded = dc_result()
                guard dc_decode(raw, b.count, nil, 1, &decoded) == 0 else { return }
                var r = dh_result()
                _ = dh_extract(decoded.text, decoded.length, &options, &r)
                if let t = r.text { texts[k] = String(cString: t) }
                dh_result_free(&r)
                dc_result_free(&decoded)
            }
        }
        times.append(cpuNow() - start)
    }
    times.sort()
    let t = times[times.count / 2]
    let bytes = pages.reduce(0) { $0 + $1.count }
    FileHandle.standardError.write(
        Data(
            String(
                format: "%@: %d pages, %.1f MB in %.3f CPU s: %.1f pages/s, %.1f MB/s\n", mode, pages.count,
                Double(bytes) / 1e6, t, Double(pages.count) / t, Double(bytes) / 1e6 / t
            ).utf8))
    if let out, mode == "extract" {
        var lines = ""
        for (name, text) in zip(names, texts) {
            lines +=
                JSONWriter.string(
                    .object(JSONObject([(key: "file", value: .string(name)), (key: "text", value: .string(text))])))
                + "\n"
        }
        try Data(lines.utf8).write(to: URL(fileURLWithPath: out))
    }
}

let args = CommandLine.arguments.dropFirst()
guard let command = args.first else {
    FileHandle.standardError.write(Data("usage: darwin-bench json SHARD...\n".utf8))
    exit(2)
}
do {
    switch command {
    case "json": try benchJSON(Array(args.dropFirst()))
    case "words": try dumpWords(Array(args.dropFirst()))
    case "html": try benchHTML(Array(args.dropFirst()))
    case "inference": try await benchInference(Array(args.dropFirst()))
    default:
        FileHandle.standardError.write(Data("unknown benchmark '\(command)'\n".utf8))
        exit(2)
    }
} catch {
    FileHandle.standardError.write(Data("darwin-bench: \(error)\n".utf8))
    exit(1)
}
