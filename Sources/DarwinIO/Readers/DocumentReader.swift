import DarwinCore

/// Anything the runner reads documents from: a JSONL shard, a WARC file, a group of files.
public protocol DocumentReader: AnyObject {
    /// The next document or error record, or `nil` at the end.
    ///
    /// - Throws: ``SourceError/io(path:message:)`` when the operating system fails a read.
    func next() throws(SourceError) -> ShardReader.Item?
    /// Bytes of the input file(s) consumed so far (for progress).
    var fileBytesRead: Int { get }
    /// Counts of what the reader saw besides documents: records skipped by rule, by content type, … .
    var counters: [String: Int] { get }
}

extension ShardReader: DocumentReader {
    public var counters: [String: Int] { [:] }
}

/// How raw (non-JSONL) inputs become documents.
public struct RawInputOptions: Sendable, Equatable {
    /// `source` of every document.
    public var source: String
    /// Content types (without parameters) whose WARC response records become documents.
    public var contentTypes: [String]
    /// Larger payloads are cut at this size (`metadata.truncated`).
    public var maxDocumentBytes: Int

    public init(source: String, contentTypes: [String], maxDocumentBytes: Int) {
        self.source = source
        self.contentTypes = contentTypes
        self.maxDocumentBytes = maxDocumentBytes
    }

    public static let defaultContentTypes = ["text/html", "application/xhtml+xml"]
}
