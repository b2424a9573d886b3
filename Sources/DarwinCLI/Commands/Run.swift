import ArgumentParser
import DarwinRunner
import DarwinSteps
import Foundation

extension DarwinCommand {
    /// `darwin run RECIPE`: runs a job; running it again resumes it.
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the job of a recipe; running it again resumes it.",
            discussion: "Relative paths in the recipe start from the current directory.")

        @Argument(help: "The recipe (YAML).")
        var recipe: String

        @Option(name: .shortAndLong, help: "The job folder (default: the recipe's output.path).")
        var output: String?

        @OptionGroup var runOptions: RunOptionGroup

        func run() throws {
            let loader = RecipeLoader(registry: StepCatalog.registry)
            let r: Recipe
            do {
                r = try loader.load(path: recipe)
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            let cwd = FileManager.default.currentDirectoryPath
            let out = absolute(output ?? r.output.path, base: cwd)
            try JobExecution.execute(
                recipe: r, base: cwd, output: out, group: runOptions,
                command: CommandLine.arguments.joined(separator: " "))
        }
    }

    /// `darwin resume OUT`: resumes the job recorded in a folder with its snapshot recipe.
    struct Resume: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Resume the job recorded in OUT with the recipe it started with.")

        @Argument(help: "The job folder.")
        var out: String

        @OptionGroup var runOptions: RunOptionGroup

        func run() throws {
            let dir = absolute(out, base: FileManager.default.currentDirectoryPath)
            let report: JobReport
            do {
                report = try JobReport(outputDirectory: dir)
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode.failure
            }
            let loader = RecipeLoader(registry: StepCatalog.registry)
            let r: Recipe
            do {
                r = try loader.parse(text: report.job.recipeText, path: dir + "/recipe.yaml")
            } catch {
                FileHandle.standardError.write(Data("darwin: error: \(error)\n".utf8))
                throw ExitCode(2)
            }
            try JobExecution.execute(
                recipe: r, base: report.job.baseDirectory, output: dir, group: runOptions,
                command: CommandLine.arguments.joined(separator: " "))
        }
    }
}

/// An absolute, standardised path.
func absolute(_ path: String, base: String) -> String {
    ((path.hasPrefix("/") ? path : base + "/" + path) as NSString).standardizingPath
}
