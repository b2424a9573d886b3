import DarwinCore
import Foundation

/// Reads a group of loose files (`.html`, `.htm`, `.xhtml`, `.txt`, `.md`, `.markdown`) as documents, one per
/// file, in the order given: id is the path relative to the input folder, text is the file decoded to UTF-8
/// (HTML by BOM, `<meta>`, then detection; text files by BOM, then UTF-8, then detection).
public final class FileTreeReader: DocumentReader {
    public let root: String
    public let files: [String]
    public let options: RawInputOptions
    public private(set) var counters: [String: Int] = [:]
    public private(set) var fileBytesRead = 0
    private var index = 0

    /// Extensions read, with the content type they give.
    public static let contentTypes: [String: String] = [
        "html": "text/html", "htm": "text/html", "xhtml": "application/xhtml+xml", "txt": "text/plain",
        "md": "text/markdown", "markdown": "text/markdown",
    ]

    public static func contentType(of path: String) -> String? {
        contentTypes[(path as NSString).pathExtension.lowercased()]
    }

    /// `files` are relative to `root`.
    public init(root: String, files: [String], options: RawInputOptions) {
        self.root = root
        self.files = files
        self.options = options
    }

    public func next() throws(SourceError) -> ShardReader.Item? {
        while index < files.count {
            let relative = files[index]
            index += 1
            let path = root + "/" + relative
            let bytes: [UInt8]
            do {
                bytes = try BinaryFile.read(path)
            } catch {
                return .error(
                    ErrorRecord(
                        shard: path, line: 0, offset: 0, fileOffset: nil, kind: "unreadable_file",
                        message: "\(error)", raw: [], rawLength: 0))
            }
            fileBytesRead += bytes.count
            let type = Self.contentType(of: relative) ?? "text/plain"
            guard !bytes.isEmpty else {
                counters["skipped.empty", default: 0] += 1
                continue
            }
            var raw = bytes
            var truncated = false
            if raw.count > options.maxDocumentBytes {
                raw.removeSubrange(options.maxDocumentBytes...)
                truncated = true
            }
            let decoded = DecodedPage.decode(raw, declared: nil, html: type.contains("html"))
            var metadata = JSONObject([(key: "content_type", value: .string(type))])
            for (k, v) in decoded.metadata { metadata[k] = v }
            metadata["content_hash"] = .string(DecodedPage.contentHash(bytes))
            if truncated { metadata["truncated"] = .bool(true) }
            metadata["file"] = .string(relative)
            counters["documents." + type, default: 0] += 1
            return .document(
                Document(
                    id: relative, text: decoded.text,
                    fields: [
                        (key: "source", value: .string(options.source)), (key: "metadata", value: .object(metadata)),
                    ]))
        }
        return nil
    }
}
