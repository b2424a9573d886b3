import DarwinCore
import Foundation

/// One input file of a job and the shard name its outputs take.
public struct InputShard: Sendable, Equatable {
    public var path: String
    /// Relative name without extension (`part-00003`, `cc/2024/part-00003`); outputs are `<name>.jsonl.zst`.
    public var name: String
    /// File size when resolved.
    public var fileBytes: Int

    public init(path: String, name: String, fileBytes: Int) {
        self.path = path
        self.name = name
        self.fileBytes = fileBytes
    }
}

/// Turns the recipe's input paths (files, folders, globs) into a sorted list of shards.
public enum InputResolver {
    /// File name endings read as JSONL shards.
    public static let extensions = [".jsonl.zst", ".jsonl.zstd", ".jsonl.gz", ".jsonl"]

    /// Resolves every entry; each must match at least one file.
    ///
    /// - Parameters:
    ///   - base: directory that relative paths start from.
    ///   - recipePath: for messages.
    /// - Throws: ``RecipeError`` naming the recipe line of an entry that matches nothing, or two files
    ///   that would produce the same output name.
    public static func resolve(_ input: InputSpec, base: String, recipePath: String) throws(RecipeError) -> [InputShard]
    {
        var shards: [InputShard] = []
        var byName: [String: String] = [:]
        for (i, entry) in input.paths.enumerated() {
            let line = i < input.pathLines.count ? input.pathLines[i] : nil
            let absolute = entry.hasPrefix("/") ? entry : base + "/" + entry
            let found = matches(absolute)
            if found.isEmpty {
                let why: String
                if entry.contains("*") || entry.contains("?") || entry.contains("[") {
                    why = "matches no files"
                } else if FileManager.default.fileExists(atPath: absolute) {
                    why = "holds no .jsonl, .jsonl.gz or .jsonl.zst files"
                } else {
                    why = "does not exist"
                }
                throw RecipeError(
                    path: recipePath, line: line, message: "input path '\(entry)' \(why) (looked in \(absolute))")
            }
            for (path, name) in found {
                if let other = byName[name], other != path {
                    throw RecipeError(
                        path: recipePath, line: line,
                        message:
                            "inputs '\(other)' and '\(path)' would both be written as shard '\(name)'; rename one or list their folders separately"
                    )
                }
                if byName[name] != nil { continue }
                byName[name] = path
                var st = stat()
                let size = stat(path, &st) == 0 ? Int(st.st_size) : 0
                shards.append(InputShard(path: path, name: name, fileBytes: size))
            }
        }
        return shards.sorted { $0.name < $1.name }
    }

    /// Strips a shard extension: `a/b.jsonl.zst` → `a/b`; `nil` if the name has none.
    public static func shardName(_ relative: String) -> String? {
        for ext in extensions where relative.hasSuffix(ext) && relative.count > ext.count {
            return String(relative.dropLast(ext.count))
        }
        return nil
    }

    private static func matches(_ pattern: String) -> [(path: String, name: String)] {
        var isDir: ObjCBool = false
        if !hasWildcard(pattern) {
            guard FileManager.default.fileExists(atPath: pattern, isDirectory: &isDir) else { return [] }
            if isDir.boolValue { return walk(directory: pattern) }
            let file = (pattern as NSString).lastPathComponent
            return [(normalize(pattern), shardName(file) ?? file)]
        }
        // The folder before the first wildcard is the root that names are relative to.
        let components = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let rootParts = components.prefix { !hasWildcard(String($0)) }
        let root = rootParts.joined(separator: "/")
        var out: [(String, String)] = []
        for path in glob(pattern) {
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                out += walk(directory: path).map { ($0.path, relative(path, to: root) + "/" + $0.name) }
            } else {
                let rel = relative(path, to: root)
                guard let name = shardName(rel) else { continue }
                out.append((normalize(path), name))
            }
        }
        return out
    }

    private static func walk(directory: String) -> [(path: String, name: String)] {
        guard let e = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [(String, String)] = []
        while let rel = e.nextObject() as? String {
            let last = (rel as NSString).lastPathComponent
            if last.hasPrefix(".") || last.hasPrefix("_") {
                // Hidden files and darwin's own _rejected/_errors/_work folders are not input.
                var isDir: ObjCBool = false
                if FileManager.default.fileExists(atPath: directory + "/" + rel, isDirectory: &isDir), isDir.boolValue {
                    e.skipDescendants()
                }
                continue
            }
            guard let name = shardName(rel) else { continue }
            out.append((normalize(directory + "/" + rel), name))
        }
        return out
    }

    private static func hasWildcard(_ s: String) -> Bool { s.contains("*") || s.contains("?") || s.contains("[") }

    private static func relative(_ path: String, to root: String) -> String {
        let r = root.hasSuffix("/") ? root : root + "/"
        return path.hasPrefix(r) ? String(path.dropFirst(r.count)) : (path as NSString).lastPathComponent
    }

    private static func normalize(_ path: String) -> String { (path as NSString).standardizingPath }

    private static func glob(_ pattern: String) -> [String] {
        var g = glob_t()
        defer { globfree(&g) }
        guard Glibc.glob(pattern, 0, nil, &g) == 0 else { return [] }
        var out: [String] = []
        for i in 0..<Int(g.gl_pathc) {
            if let p = g.gl_pathv[i] { out.append(String(cString: p)) }
        }
        return out.sorted()
    }
}
