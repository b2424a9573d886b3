import DarwinCore
import DarwinIO

/// A validated recipe: the input, the output and the ordered stages of a job.
public struct Recipe: Sendable {
    /// Where the recipe came from (for messages) and its exact text (snapshotted into the job).
    public var sourcePath: String
    public var text: String
    public var name: String?
    /// The job seed, given to steps that draw random numbers.
    public var seed: UInt64
    public var input: InputSpec
    public var output: OutputSpec
    public var stages: [StageSpec]
    /// The tokenizer.json the job counts tokens with (and its `tokenize` stages encode with), if it names one.
    public var tokenizer: String? = nil

    /// The stage called `name`.
    public func stage(named name: String) -> StageSpec? { stages.first { $0.name == name } }
}

/// What a job reads.
public struct InputSpec: Sendable, Equatable {
    /// Files, directories (searched recursively) or glob patterns, as written in the recipe.
    public var paths: [String]
    /// The input format: `jsonl` (`.jsonl`, `.jsonl.gz`, `.jsonl.zst`), `warc` (`.warc`, `.warc.gz`, `.wet`,
    /// `.wet.gz`) or `files` (`.html`, `.htm`, `.xhtml`, `.txt`, `.md` trees).
    public var format: String
    /// The longest line accepted as a document.
    public var maxLineBytes: Int
    /// jsonl: the largest zstd window a frame may need, a power of two from 1 MiB to 2 GiB.
    public var maxWindow = InputSpec.defaultMaxWindow
    /// Recipe line of each entry of `paths`, for messages.
    public var pathLines: [Int]
    /// JSONL: the fields that hold the id, the text and the URL when they are not `id`, `text`, `url`.
    public var idField = "id"
    public var textField = "text"
    public var urlField: String? = nil
    /// warc / files: `source` of every document (jsonl: only where a document has none).
    public var source: String? = nil
    /// warc: the content types that become documents.
    public var contentTypes = RawInputOptions.defaultContentTypes
    /// warc / files: larger payloads are cut here.
    public var maxDocumentBytes = 16 << 20
    /// files: files per shard.
    public var filesPerShard = 1000

    /// The default of `maxWindow`: 128 MiB, the reader's.
    public static let defaultMaxWindow = ShardReader.defaultMaxWindow

    public init(paths: [String], format: String, maxLineBytes: Int, pathLines: [Int]) {
        self.paths = paths
        self.format = format
        self.maxLineBytes = maxLineBytes
        self.pathLines = pathLines
    }

    /// The options of the raw readers.
    public var rawOptions: RawInputOptions {
        RawInputOptions(
            source: source ?? format, contentTypes: contentTypes, maxDocumentBytes: maxDocumentBytes)
    }
}

/// Where and how a job writes.
public struct OutputSpec: Sendable, Equatable {
    /// The job folder.
    public var path: String
    /// zstd level of kept and rejected shards.
    public var compressionLevel: Int
    /// Whether dropped documents are written to `_rejected/` (counts are recorded either way).
    public var writeRejected: Bool
    /// Recipe line of the output path, for messages.
    public var line: Int? = nil
}

/// One stage: a level and its ordered steps.
public struct StageSpec: Sendable {
    public var name: String
    public var level: Level
    public var steps: [StepSpec]
    /// Line of the stage in the recipe, for messages.
    public var line: Int
    /// How the stage cuts its kept documents into shards; `nil`: one output shard per input shard.
    public var cut: ShardCut? = nil
    /// The token files the stage writes beside its kept shards, if any.
    public var tokenize: TokenizeSpec? = nil
}

/// A target size for a stage's output shards.
public enum ShardCut: Sendable, Equatable {
    /// A new shard starts once the current one holds this many bytes of JSON lines (uncompressed).
    case bytes(Int)
    /// Shards of this many documents (the last one fewer).
    case documents(Int)
}

/// One step of a stage, with validated parameters.
public struct StepSpec: Sendable {
    /// The name in stats and history: the step id, or `id#2` for its second use in the stage.
    public var name: String
    public var descriptor: StepDescriptor
    public var parameters: Parameters
    public var line: Int
}

/// A recipe problem, located in the recipe file.
public struct RecipeError: Error, Sendable, CustomStringConvertible, Equatable {
    public let path: String
    public let line: Int?
    public let column: Int?
    public let message: String

    public init(path: String, line: Int?, column: Int? = nil, message: String) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
    }

    /// `recipe.yaml:12:7: unknown step 'min_lenght'; did you mean 'min_length'?`
    public var description: String {
        var s = path
        if let line {
            s += ":\(line)"
            if let column { s += ":\(column)" }
        }
        return s + ": " + message
    }
}
