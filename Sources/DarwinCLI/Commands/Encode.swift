import ArgumentParser
import DarwinCore
import DarwinIO
import DarwinTokenizer
import Foundation

extension DarwinCommand {
    /// `darwin encode --tokenizer FILE SHARD...`: the token ids of every document, one JSON line each.
    struct Encode: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the token ids of every document of some shards, one JSON line per document.",
            discussion: """
                Encodes the text of each document with a Hugging Face tokenizer.json, exactly as the \
                tokenizers library does (encode(text, add_special_tokens=False), or True with --special), and \
                prints {"id": …, "ids": […]} in input order. Lines that are not documents are reported on \
                standard error with their file and line and skipped.
                """)

        @Option(name: .long, help: "The tokenizer.json to encode with.")
        var tokenizer: String

        @Flag(name: .long, help: "Add the tokens the tokenizer's post-processor puts around a text (BOS, EOS).")
        var special = false

        @Argument(help: "JSONL shards (.jsonl, .jsonl.gz, .jsonl.zst).")
        var shards: [String]

        func run() throws {
            let t = Tokenizer.loadOrExit(tokenizer)
            let encoder = t.makeEncoder()
            var out = Data()
            var failed = false
            for path in shards {
                let reader: ShardReader
                do {
                    reader = try ShardReader(path: path)
                } catch {
                    FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                    throw ExitCode(2)
                }
                while let item = try reader.next() {
                    switch item {
                    case .error(let e):
                        failed = true
                        FileHandle.standardError.write(
                            Data("darwin: \(path):\(e.line): \(e.kind): \(e.message)\n".utf8))
                    case .document(let doc):
                        let ids = try encoder.encode(doc.text, addSpecialTokens: special)
                        var line = JSONWriter.string(.string(doc.id))
                        line = "{\"id\":" + line + ",\"ids\":[" + ids.map(String.init).joined(separator: ",") + "]}\n"
                        out.append(contentsOf: line.utf8)
                        if out.count > 1 << 20 {
                            FileHandle.standardOutput.write(out)
                            out.removeAll(keepingCapacity: true)
                        }
                    }
                }
            }
            FileHandle.standardOutput.write(out)
            if failed { throw ExitCode.failure }
        }
    }
}
