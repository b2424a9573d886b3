import ArgumentParser
import DarwinRunner
import Foundation

extension DarwinCommand {
    /// `darwin verify OUT`: rereads every output file of a job and checks it against provenance.
    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Reread every output shard of a job and check it against the checksums and counts in provenance.",
            discussion: """
                Every file a done task recorded (kept shards, _rejected/ and _errors/) is read once and reported \
                when it is missing, truncated (shorter than recorded or its zstd stream ends early, so it has \
                fewer lines) or altered (not shorter, but its checksum, lines or zstd data differ). Intermediate _work/ files are checked while they are there; the \
                runner removes them when their stage completes, so their absence is a problem only in an \
                incomplete stage. Shards in a stage folder that no done task recorded are listed as unexpected \
                files: a warning, which does not change the exit status (a task interrupted after writing its \
                files leaves them; resuming redoes it).

                Exit status: 0 when every recorded file matches, 1 when one is missing, truncated, altered or \
                unreadable, 2 when OUT is not a job folder or its provenance cannot be read.
                """)

        @Argument(help: "The job folder.")
        var out: String

        @Flag(name: .long, help: "Print the report as JSON.")
        var json = false

        func run() throws {
            let dir = absolute(out, base: FileManager.default.currentDirectoryPath)
            let report: VerifyReport
            do {
                report = try JobVerifier().verify(out: dir)
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            if report.isRunning {
                FileHandle.standardError.write(
                    Data(
                        "darwin: warning: a run is working on \(dir); files of tasks finishing now may show as unexpected\n"
                            .utf8))
            }
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(report), as: UTF8.self))
            } else {
                print(report.text(), terminator: "")
            }
            if !report.allMatch { throw ExitCode.failure }
        }
    }
}
