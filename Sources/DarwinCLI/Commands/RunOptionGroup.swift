import ArgumentParser
import DarwinCore
import DarwinRunner
import Foundation

/// Flags shared by `run` and `resume`.
struct RunOptionGroup: ParsableArguments {
    @Option(name: .long, help: "Worker threads (default: the number of cores).")
    var workers: Int?

    @Option(name: .long, help: "Stop after this stage.")
    var until: String?

    @Option(name: .long, help: "This process's rank (default: $SLURM_ARRAY_TASK_ID or $SLURM_PROCID, else 0).")
    var rank: Int?

    @Option(name: .long, help: "Number of ranks (default: $SLURM_ARRAY_TASK_COUNT or $SLURM_NTASKS, else 1).")
    var worldSize: Int?

    @Flag(name: .long, help: "When the recipe changed, redo the first changed stage and every stage after it.")
    var force = false

    @Flag(name: .long, help: "Treat any bad input line (malformed JSON, invalid UTF-8, damaged stream) as fatal.")
    var strict = false

    @Option(
        name: .long,
        help:
            "Most input errors per shard and per job before the shard's task fails or the job stops (default: no limit)."
    )
    var maxErrors: Int?

    @Option(
        name: .long,
        help:
            "Largest share of a shard's (and the job's) records that may be input errors, judged from 10 errors on."
    )
    var maxErrorRate: Double = ErrorBudget.defaultMaxRate

    @Flag(
        name: .long,
        help: "Hash every input shard in full to check it is what the job read before, whatever its size and time say.")
    var verifyInputs = false

    @Flag(name: .long, help: "Keep the intermediate files of global steps (dedup) after their stage completes.")
    var keepIntermediate = false

    @Option(name: .long, help: "Progress display: auto, live, plain or none.")
    var progress: String = "auto"

    @Option(name: .long, help: "Seconds between plain progress lines.")
    var progressInterval: Double = 10

    @Flag(name: .shortAndLong, help: "Only warnings and errors on stderr.")
    var quiet = false

    func validate() throws {
        if let workers, workers < 1 { throw ValidationError("--workers must be at least 1") }
        let (rank, world) = resolvedRank()
        if world < 1 { throw ValidationError("--world-size must be at least 1") }
        if rank < 0 || rank >= world { throw ValidationError("--rank must be in 0..<\(world) (got \(rank))") }
        if ProgressStyle(rawValue: progress) == nil {
            throw ValidationError("--progress must be one of auto, live, plain, none")
        }
        if progressInterval <= 0 { throw ValidationError("--progress-interval must be positive") }
        if let maxErrors, maxErrors < 0 { throw ValidationError("--max-errors must be at least 0") }
        if !(0...1).contains(maxErrorRate) { throw ValidationError("--max-error-rate must be in 0…1") }
    }

    /// Rank and world size from flags, else from Slurm's environment.
    func resolvedRank() -> (rank: Int, worldSize: Int) {
        let env = ProcessInfo.processInfo.environment
        let rank =
            self.rank ?? env["SLURM_ARRAY_TASK_ID"].flatMap(Int.init) ?? env["SLURM_PROCID"].flatMap(Int.init) ?? 0
        let world =
            worldSize ?? env["SLURM_ARRAY_TASK_COUNT"].flatMap(Int.init) ?? env["SLURM_NTASKS"].flatMap(Int.init) ?? 1
        return (rank, world)
    }

    func options(command: String) -> RunOptions {
        let (rank, world) = resolvedRank()
        return RunOptions(
            workers: workers ?? ProcessInfo.processInfo.activeProcessorCount, until: until, rank: rank,
            worldSize: world, force: force, strict: strict, keepIntermediate: keepIntermediate,
            progress: ProgressStyle(rawValue: progress) ?? .auto, progressInterval: progressInterval, command: command,
            verifyInputs: verifyInputs, errorBudget: ErrorBudget(maxErrors: maxErrors, maxRate: maxErrorRate))
    }
}

/// Runs a job with signal handling and maps the outcome to an exit code.
enum JobExecution {
    static func execute(recipe: Recipe, base: String, output: String, group: RunOptionGroup, command: String) throws {
        let console = Console(quiet: group.quiet)
        let control = RunControl()
        let options = group.options(command: command)
        // SIGINT/SIGTERM: finish nothing new, abandon partial outputs, record the run as interrupted.
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        var sources: [DispatchSourceSignal] = []
        for (sig, reason) in [(SIGINT, RunControl.StopReason.interrupt), (SIGTERM, .terminate)] {
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                if control.isStopping { _exit(128 + sig) }
                console.warning(
                    "stopping after \(sig == SIGINT ? "SIGINT" : "SIGTERM"); partial shards are discarded (signal again to quit at once)"
                )
                control.requestStop(reason)
            }
            source.resume()
            sources.append(source)
        }
        defer { sources.forEach { $0.cancel() } }

        let runner = JobRunner(
            recipe: recipe, baseDirectory: base, outputDirectory: output, options: options,
            control: control, console: console)
        let summary: RunSummary
        do {
            summary = try runner.run()
        } catch {
            console.error(error.description)
            if case .recipe = error { throw ExitCode(2) }
            throw ExitCode.failure
        }
        let rate = summary.seconds > 0 ? Double(summary.docsIn) / summary.seconds : 0
        let work =
            "\(summary.tasksRun) task(s) run, \(summary.tasksSkipped) already done; \(Format.count(summary.docsIn)) docs read in \(String(format: "%.1f", summary.seconds)) s (\(Format.count(Int(rate))) docs/s)"
        if let report = try? JobReport(outputDirectory: output) {
            console.warning(lines: report.inputErrorSummary())
        }
        if summary.interrupted != .none {
            console.warning("interrupted: \(work); `darwin resume \(output)` continues")
            throw ExitCode(128 + Int32(summary.interrupted.rawValue))
        }
        if let fatal = summary.fatal {
            console.error(fatal)
            throw ExitCode.failure
        }
        if !summary.failures.isEmpty || summary.blocked > 0 {
            console.error(
                "\(summary.failures.count) task(s) failed, \(summary.blocked) not run because of them; `darwin status \(output)` lists them, `darwin resume \(output)` retries"
            )
            throw ExitCode.failure
        }
        console.info("done: \(work); `darwin stats \(output)` shows what each step did")
    }
}
