import DarwinCore
import DarwinIO
import Foundation

/// One input file of a job and the shard name its outputs take.
public struct InputShard: Sendable, Equatable {
    public var path: String
    /// Relative name without extension (`part-00003`, `cc/2024/part-00003`); outputs are `<name>.jsonl.zst`.
    public var name: String
    /// File size when resolved.
    public var fileBytes: Int
    /// Format `files`: the files of this shard, relative to `path` (a folder).
    public var files: [String] = []

    public init(path: String, name: String, fileBytes: Int, files: [String] = []) {
        self.path = path
        self.name = name
        self.fileBytes = fileBytes
        self.files = files
    }

    /// The files the shard reads: the shard's file, or a `files` shard's files under its folder.
    var filePaths: [String] { files.isEmpty ? [path] : files.map { path + "/" + $0 } }
}

/// Turns the recipe's input paths (files, folders, globs) into a sorted list of shards.
public enum InputResolver {
    /// File name endings read as JSONL shards.
    public static let extensions = [".jsonl.zst", ".jsonl.zstd", ".jsonl.gz", ".jsonl"]
    /// File name endings read as WARC files.
    public static let warcExtensions = [".warc.gz", ".warc", ".wet.gz", ".wet"]
    /// File name endings read by format `files`: those the file reader knows a content type for.
    public static let fileExtensions = FileTreeReader.contentTypes.keys.sorted().map { "." + $0 }

    static func extensions(of format: String) -> [String] {
        switch format {
        case "warc": return warcExtensions
        case "files": return fileExtensions
        default: return extensions
        }
    }

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
        let exts = extensions(of: input.format)
        for (i, entry) in input.paths.enumerated() {
            let line = i < input.pathLines.count ? input.pathLines[i] : nil
            let absolute = entry.hasPrefix("/") ? entry : base + "/" + entry
            if input.format == "files" {
                let group = fileGroups(absolute, entry: entry, perShard: input.filesPerShard)
                if group.isEmpty {
                    throw RecipeError(
                        path: recipePath, line: line,
                        message:
                            "input path '\(entry)' holds no \(fileExtensions.joined(separator: ", ")) files (looked in \(absolute))"
                    )
                }
                for g in group {
                    if let other = byName[g.name], other != g.path {
                        throw RecipeError(
                            path: recipePath, line: line,
                            message:
                                "inputs '\(other)' and '\(g.path)' would both be written as shard '\(g.name)'; list folders with different names"
                        )
                    }
                    byName[g.name] = g.path
                    shards.append(g)
                }
                continue
            }
            let found = matches(absolute, exts)
            if found.isEmpty {
                let why: String
                if entry.contains("*") || entry.contains("?") || entry.contains("[") {
                    why = "matches no files"
                } else if FileManager.default.fileExists(atPath: absolute) {
                    why = "holds no " + exts.joined(separator: ", ") + " files"
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

    /// Refuses an output folder that is an input folder, lies inside one, or holds an input: a later run
    /// would read the job's own output as input (or a rerun would delete input).
    ///
    /// - Parameters:
    ///   - output: the job folder, absolute.
    ///   - outputLine: the recipe line of the output path.
    /// - Throws: ``RecipeError`` naming the recipe line of the output or of the input path at fault.
    public static func checkFolders(
        _ input: InputSpec, base: String, output: String, outputLine: Int?, recipePath: String
    ) throws(RecipeError) {
        let out = canonical(output)
        for (i, entry) in input.paths.enumerated() {
            let line = i < input.pathLines.count ? input.pathLines[i] : nil
            let absolute = normalize(entry.hasPrefix("/") ? entry : base + "/" + entry)
            if hasWildcard(absolute) {
                let root = absolute.split(separator: "/", omittingEmptySubsequences: false)
                    .prefix { !hasWildcard(String($0)) }.joined(separator: "/")
                let canonicalRoot = canonical(root.isEmpty ? "/" : root)
                if isInside(canonicalRoot, out) || canonicalRoot == out {
                    throw RecipeError(
                        path: recipePath, line: line,
                        message:
                            "input path '\(entry)' is inside the output folder \(output); choose an output outside the input"
                    )
                }
                // Would the pattern match the output folder or one of its parents?
                let pattern = canonicalRoot + String(absolute.dropFirst(root.count))
                var p = out
                while p.count > canonicalRoot.count, isInside(p, canonicalRoot) {
                    if fnmatch(pattern, p, FNM_PATHNAME) == 0 {
                        throw RecipeError(
                            path: recipePath, line: outputLine ?? line,
                            message:
                                "output folder \(output) matches input path '\(entry)'; the next run would read the job's own output: choose an output outside the input"
                        )
                    }
                    p = (p as NSString).deletingLastPathComponent
                }
                continue
            }
            let path = canonical(absolute)
            if path == out {
                throw RecipeError(
                    path: recipePath, line: outputLine ?? line,
                    message: "output folder \(output) is the input path '\(entry)'; choose another output folder")
            }
            if isInside(out, path) {
                throw RecipeError(
                    path: recipePath, line: outputLine ?? line,
                    message:
                        "output folder \(output) is inside input path '\(entry)'; the next run would read the job's own output: choose an output outside the input"
                )
            }
            if isInside(path, out) {
                throw RecipeError(
                    path: recipePath, line: line,
                    message:
                        "input path '\(entry)' is inside the output folder \(output); choose an output outside the input"
                )
            }
        }
    }

    /// Whether `path` lies strictly inside folder `folder` (both canonical).
    private static func isInside(_ path: String, _ folder: String) -> Bool {
        let f = folder.hasSuffix("/") ? folder : folder + "/"
        return path.hasPrefix(f)
    }

    /// The absolute path with symbolic links of its existing part resolved (the rest kept as written).
    static func canonical(_ path: String) -> String {
        var existing = normalize(path)
        var rest: [String] = []
        while !existing.isEmpty, existing != "/", !FileManager.default.fileExists(atPath: existing) {
            rest.insert((existing as NSString).lastPathComponent, at: 0)
            existing = (existing as NSString).deletingLastPathComponent
        }
        var resolved = existing
        if let r = realpath(existing, nil) {
            resolved = String(cString: r)
            free(r)
        }
        return rest.isEmpty ? resolved : normalize(resolved + "/" + rest.joined(separator: "/"))
    }

    /// Strips a shard extension: `a/b.jsonl.zst` → `a/b`; `nil` if the name has none.
    public static func shardName(_ relative: String, _ exts: [String] = extensions) -> String? {
        for ext in exts where relative.hasSuffix(ext) && relative.count > ext.count {
            return String(relative.dropLast(ext.count))
        }
        return nil
    }

    /// Format `files`: the files under a folder (or the file, or the glob's matches), sorted, in groups of
    /// `perShard`, named `<folder>-00000`, … .
    private static func fileGroups(_ pattern: String, entry: String, perShard: Int) -> [InputShard] {
        var roots: [String] = []
        if hasWildcard(pattern) { roots = glob(pattern) } else { roots = [pattern] }
        var out: [InputShard] = []
        for root in roots {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDir) else { continue }
            if !isDir.boolValue {
                let file = (root as NSString).lastPathComponent
                guard shardName(file.lowercased(), fileExtensions) != nil else { continue }
                let folder = (root as NSString).deletingLastPathComponent
                let size = BinaryFile.size(root)
                out.append(
                    InputShard(
                        path: normalize(folder.isEmpty ? "." : folder), name: shardName(file, fileExtensions) ?? file,
                        fileBytes: size, files: [file]))
                continue
            }
            let files = walk(directory: root, fileExtensions, lowercase: true).map(\.relative).sorted()
            let label = (normalize(root) as NSString).lastPathComponent
            var k = 0
            while k * perShard < files.count {
                let part = Array(files[(k * perShard)..<min(files.count, (k + 1) * perShard)])
                let size = part.reduce(0) { $0 + BinaryFile.size(root + "/" + $1) }
                out.append(
                    InputShard(
                        path: normalize(root), name: label + "-" + String(format: "%05d", k), fileBytes: size,
                        files: part))
                k += 1
            }
        }
        return out
    }

    private static func matches(_ pattern: String, _ exts: [String]) -> [(path: String, name: String)] {
        var isDir: ObjCBool = false
        if !hasWildcard(pattern) {
            guard FileManager.default.fileExists(atPath: pattern, isDirectory: &isDir) else { return [] }
            if isDir.boolValue { return walk(directory: pattern, exts).map { ($0.path, $0.name) } }
            let file = (pattern as NSString).lastPathComponent
            return [(normalize(pattern), shardName(file, exts) ?? file)]
        }
        // The folder before the first wildcard is the root that names are relative to.
        let components = pattern.split(separator: "/", omittingEmptySubsequences: false)
        let rootParts = components.prefix { !hasWildcard(String($0)) }
        let root = rootParts.joined(separator: "/")
        var out: [(String, String)] = []
        for path in glob(pattern) {
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { continue }
            if isDir.boolValue {
                out += walk(directory: path, exts).map { ($0.path, relative(path, to: root) + "/" + $0.name) }
            } else {
                let rel = relative(path, to: root)
                guard let name = shardName(rel, exts) else { continue }
                out.append((normalize(path), name))
            }
        }
        return out
    }

    private static func walk(directory: String, _ exts: [String], lowercase: Bool = false) -> [(
        path: String, name: String, relative: String
    )] {
        guard let e = FileManager.default.enumerator(atPath: directory) else { return [] }
        var out: [(String, String, String)] = []
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
            guard let name = shardName(lowercase ? rel.lowercased() : rel, exts) else { continue }
            out.append((normalize(directory + "/" + rel), name, rel))
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
