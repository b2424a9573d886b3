import ArgumentParser
import DarwinCore

/// The `darwin` command: lists the subcommands.
@main
struct DarwinCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "darwin",
        abstract: "Curate LLM pretraining data along the Data Darwinism levels L0–L9.",
        discussion: """
            A job reads JSONL shards (.jsonl, .jsonl.gz, .jsonl.zst), runs the stages of a YAML recipe over \
            them and writes kept, rejected and error shards per stage, with provenance in SQLite. Running a \
            job again resumes it.
            """,
        version: DarwinVersion.current,
        subcommands: [
            Run.self, Resume.self, Status.self, Stats.self, Inspect.self, Validate.self, Levels.self, Steps.self,
            TrainClassifier.self, Verify.self, Encode.self, Tokens.self,
        ]
    )
}
