import DarwinCore
import DarwinIO
import Foundation

/// A fresh temporary directory, removed when the value is released.
public final class TemporaryDirectory: @unchecked Sendable {
    public let path: String

    public init(_ label: String = "darwin-test") {
        let template = NSTemporaryDirectory() + "/\(label)-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made: String? = bytes.withUnsafeMutableBufferPointer { buffer in
            guard let base = buffer.baseAddress, let p = mkdtemp(base) else { return nil }
            return String(cString: p)
        }
        path = ((made ?? (NSTemporaryDirectory() + "/\(label)-\(UUID().uuidString)")) as NSString).standardizingPath
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// A path inside the directory (parents created).
    public func file(_ name: String) -> String {
        let p = path + "/" + name
        try? FileManager.default.createDirectory(
            atPath: (p as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        return p
    }
}

/// Paths of the repository and its fixtures.
public enum Repository {
    /// The repository root (found from this file's location).
    public static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The bundled real sample shards.
    public static var sampleDirectory: String { root + "/data/sample" }

    /// The sample shard files, sorted.
    public static var sampleShards: [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: sampleDirectory)) ?? [])
            .filter { $0.hasSuffix(".jsonl.zst") }.sorted().map { sampleDirectory + "/" + $0 }
    }

    /// The `darwin` binary built by `swift build` (override with `DARWIN_BIN`).
    public static var darwinBinary: String {
        if let p = ProcessInfo.processInfo.environment["DARWIN_BIN"] { return p }
        return root + "/.build/debug/darwin"
    }
}

/// Reading and writing shards in tests.
public enum Shards {
    /// Every line of a shard, decompressed, as strings (reads `.zst`, `.gz` and plain files).
    public static func lines(_ path: String) throws -> [String] {
        let reader = try ShardReader(path: path)
        var out: [String] = []
        while let item = try reader.next() {
            switch item {
            case .document(let d): out.append(d.jsonString)
            case .error(let e): out.append(String(decoding: e.raw, as: UTF8.self))
            }
        }
        return out
    }

    /// The documents of a shard (error records are skipped).
    public static func documents(_ path: String) throws -> [Document] {
        let reader = try ShardReader(path: path)
        var out: [Document] = []
        while let item = try reader.next() {
            if case .document(let d) = item { out.append(d) }
        }
        return out
    }

    /// Every item of a shard.
    public static func items(_ path: String, maxLineBytes: Int = ShardReader.defaultMaxLineBytes) throws -> [ShardReader
        .Item]
    {
        let reader = try ShardReader(path: path, maxLineBytes: maxLineBytes)
        var out: [ShardReader.Item] = []
        while let item = try reader.next() { out.append(item) }
        return out
    }

    /// Decompressed bytes of a file (via the zstd/gzip CLI for independence from darwin's reader).
    public static func decompressed(_ path: String) throws -> [UInt8] {
        if path.hasSuffix(".zst") { return try Process.output("zstd", ["-dc", path]) }
        if path.hasSuffix(".gz") { return try Process.output("gzip", ["-dc", path]) }
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    /// Writes bytes compressed with the zstd CLI (level given).
    public static func writeZstd(_ bytes: [UInt8], to path: String, level: Int = 3) throws {
        let raw = path + ".raw"
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        defer { try? FileManager.default.removeItem(atPath: raw) }
        _ = try Process.output("zstd", ["-q", "-f", "-\(level)", raw, "-o", path])
    }

    /// Writes bytes compressed with the gzip CLI.
    public static func writeGzip(_ bytes: [UInt8], to path: String) throws {
        let raw = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path + ".raw"
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        _ = try Process.output("gzip", ["-f", "-n", raw])
        if raw + ".gz" != path { try FileManager.default.moveItem(atPath: raw + ".gz", toPath: path) }
    }

    /// Every `.jsonl.zst` file under `dir` (recursively, relative paths, sorted), skipping `provenance/`.
    public static func files(under dir: String) -> [String] {
        guard let e = FileManager.default.enumerator(atPath: dir) else { return [] }
        var out: [String] = []
        while let rel = e.nextObject() as? String {
            if rel.hasPrefix("provenance") { continue }
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: dir + "/" + rel, isDirectory: &isDir), !isDir.boolValue {
                out.append(rel)
            }
        }
        return out.sorted()
    }
}

/// Result of running a program.
public struct ProcessResult: Sendable {
    public let status: Int32
    public let stdoutData: Data
    public let stderr: String
    public var stdout: String { String(decoding: stdoutData, as: UTF8.self) }
    /// Whether the process was killed by a signal (status is then the signal number).
    public let signaled: Bool
}

extension Process {
    /// Runs a program (found on PATH) and returns its standard output; fails on a non-zero exit.
    public static func output(_ program: String, _ arguments: [String], input: [UInt8]? = nil) throws -> [UInt8] {
        let r = try run(program, arguments, input: input)
        guard r.status == 0, !r.signaled else {
            throw NSError(
                domain: "test", code: Int(r.status),
                userInfo: [NSLocalizedDescriptionKey: "\(program) failed: \(r.stderr)"])
        }
        return Array(r.stdoutData)
    }

    /// Runs a program and collects its exit status and output.
    public static func run(
        _ program: String, _ arguments: [String], input: [UInt8]? = nil, environment: [String: String] = [:],
        directory: String? = nil
    ) throws -> ProcessResult {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: program.hasPrefix("/") ? program : "/usr/bin/env")
        p.arguments = program.hasPrefix("/") ? arguments : [program] + arguments
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        if let directory { p.currentDirectoryURL = URL(fileURLWithPath: directory) }
        let out = Pipe(), err = Pipe(), inp = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = inp
        try p.run()
        if let input { inp.fileHandleForWriting.write(Data(input)) }
        try? inp.fileHandleForWriting.close()
        // Read both pipes fully before waiting, so a chatty child cannot block on a full pipe.
        let group = DispatchGroup()
        nonisolated(unsafe) var outData = Data(), errData = Data()
        group.enter()
        DispatchQueue.global().async {
            outData = out.fileHandleForReading.readDataToEndOfFile()
            group.leave()
        }
        errData = err.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        p.waitUntilExit()
        return ProcessResult(
            status: p.terminationStatus, stdoutData: outData,
            stderr: String(decoding: errData, as: UTF8.self), signaled: p.terminationReason == .uncaughtSignal)
    }
}

/// The small real instruction model the model tests run (SmolLM2-135M-Instruct, GGUF), fetched by
/// scripts/fetch-models; darwin's llama.cpp engine is built by scripts/build-llama (make test runs both).
public enum SmallModel {
    public static var path: String { Repository.root + "/.cache/models/SmolLM2-135M-Instruct.Q4_1.gguf" }

    /// Why the model tests cannot run here, or nil when they can; tests fail (never skip) with this message.
    public static var missing: String? {
        FileManager.default.fileExists(atPath: path)
            ? nil : "\(path) is missing: run scripts/fetch-models (make test does)"
    }
}

extension Shards {
    /// A job folder's files by relative path, without the recipe copy and the response cache (its rows carry the
    /// time they were written): what two runs of one job must agree on byte for byte.
    public static func jobOutputs(_ folder: String) throws -> [String: Data] {
        var d: [String: Data] = [:]
        for rel in files(under: folder) where rel != "recipe.yaml" && !rel.hasPrefix("_cache") {
            d[rel] = try Data(contentsOf: URL(fileURLWithPath: folder + "/" + rel))
        }
        return d
    }
}

/// Reading `darwin stats --json`.
public enum JobStats {
    /// The counters of a step of a stage (its first step when `step` is nil), or nil when there is no such step.
    public static func counters(_ statsJSON: String, stage: String, step: String? = nil) -> JSONObject? {
        guard let stats = try? JSONValue.parse(statsJSON).objectValue,
            let s = stats["stages"]?.arrayValue?.compactMap(\.objectValue).first(where: {
                $0["name"]?.stringValue == stage
            }),
            let t = s["steps"]?.arrayValue?.compactMap(\.objectValue).first(where: {
                step == nil || $0["step"]?.stringValue == step
            })
        else { return nil }
        return t["counters"]?.objectValue ?? JSONObject()
    }
}
