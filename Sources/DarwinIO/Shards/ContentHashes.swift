import DarwinCore
import Foundation

/// Content hashes of files that identify a job's resources (models, lists), computed once per version of a
/// file: cached by path, size and modification time in memory and in `content-hashes.tsv` under darwin's cache
/// folder (`$DARWIN_CACHE`, else `$XDG_CACHE_HOME/darwin`, else `~/.cache/darwin`), so a 1 GB model is read
/// once, not on every run.
public enum ContentHashes {
    private static let lock = NSLock()
    nonisolated(unsafe) private static var memory: [String: (size: Int, modified: Int64, hash: String)] = [:]
    nonisolated(unsafe) private static var loadedFile = false

    /// The XXH3-128 of a file's bytes, or of a folder's files (each file's relative path, size and bytes, in
    /// name order), as 32 hex digits.
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when it cannot be read.
    public static func hash(of path: String) throws(SourceError) -> String {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else {
            throw .io(path: path, message: "does not exist")
        }
        guard isDir.boolValue else { return try fileHash(path) }
        let files = (FileManager.default.enumerator(atPath: path)?.allObjects as? [String] ?? []).sorted().filter {
            var d: ObjCBool = false
            return FileManager.default.fileExists(atPath: path + "/" + $0, isDirectory: &d) && !d.boolValue
        }
        let combined = StreamingHash128()
        for f in files {
            let entry = Array((f + "\n" + (try fileHash(path + "/" + f)) + "\n").utf8)
            entry.withUnsafeBytes { combined.update($0) }
        }
        return combined.hexDigest
    }

    private static func fileHash(_ path: String) throws(SourceError) -> String {
        let print = try FileFingerprint.of([path])
        let cached: String? = lock.withLock {
            loadFileCache()
            guard let c = memory[path], c.size == print.size, c.modified == print.modifiedNanoseconds else {
                return nil
            }
            return c.hash
        }
        if let cached { return cached }
        let hash = try FileFingerprint.contentHash([path])
        lock.withLock {
            memory[path] = (print.size, print.modifiedNanoseconds, hash)
            appendToFileCache("\(hash)\t\(print.size)\t\(print.modifiedNanoseconds)\t\(path)\n")
        }
        return hash
    }

    /// darwin's cache folder.
    public static var cacheDirectory: String {
        let env = ProcessInfo.processInfo.environment
        if let d = env["DARWIN_CACHE"], !d.isEmpty { return d }
        if let d = env["XDG_CACHE_HOME"], !d.isEmpty { return d + "/darwin" }
        return NSHomeDirectory() + "/.cache/darwin"
    }

    private static var cacheFile: String { cacheDirectory + "/content-hashes.tsv" }

    private static func loadFileCache() {
        guard !loadedFile else { return }
        loadedFile = true
        guard let text = try? String(contentsOfFile: cacheFile, encoding: .utf8) else { return }
        for line in text.split(separator: "\n") {
            let f = line.split(separator: "\t", maxSplits: 3)
            guard f.count == 4, let size = Int(f[1]), let modified = Int64(f[2]) else { continue }
            memory[String(f[3])] = (size, modified, String(f[0]))
        }
    }

    private static func appendToFileCache(_ line: String) {
        // A cache: failing to write it costs only a rehash next time.
        try? FileManager.default.createDirectory(atPath: cacheDirectory, withIntermediateDirectories: true)
        let fd = open(cacheFile, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        _ = Array(line.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
