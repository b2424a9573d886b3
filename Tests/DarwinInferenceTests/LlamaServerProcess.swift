import DarwinInference
import DarwinTestSupport
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A real llama-server on 127.0.0.1, started, killed and started again by a test.
final class LlamaServerProcess: @unchecked Sendable {
    /// Why the server could not be used.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let binary: URL
    let model: String
    let port: UInt16
    /// Where the server's output goes, one file per start; removed with the value.
    private let logs = TemporaryDirectory("llama-server")
    /// The arguments after `-m MODEL --host 127.0.0.1 --port PORT`.
    let options: [String]

    private let lock = NSLock()
    private var process: Process?
    private var starts = 0
    private var logPath = ""

    /// Starts the server; call ``waitUntilHealthy(timeout:)`` before using it.
    init(binary: URL, model: String, port: UInt16, options: [String]) throws {
        self.binary = binary
        self.model = model
        self.port = port
        self.options = options
        try start()
    }

    /// The arguments the server runs with.
    var arguments: [String] { ["-m", model, "--host", "127.0.0.1", "--port", String(port)] + options }

    private func start() throws {
        let log = lock.withLock { "\(logs.path)/llama-server-\(starts).log" }
        guard FileManager.default.createFile(atPath: log, contents: nil),
            let output = FileHandle(forWritingAtPath: log)
        else { throw Failure(description: "cannot write the llama-server log \(log)") }
        defer { try? output.close() }
        let process = Process()
        process.executableURL = binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        // Tools built before scripts/build-llama copied the libraries beside them find them in lib/ this way.
        let libraries = LlamaInstallation.root.appendingPathComponent("lib").path
        environment["LD_LIBRARY_PATH"] = [libraries, environment["LD_LIBRARY_PATH"]].compactMap { $0 }.joined(
            separator: ":")
        process.environment = environment
        process.standardOutput = output
        process.standardError = output
        try process.run()
        lock.withLock {
            self.process = process
            starts += 1
            logPath = log
        }
    }

    /// Waits until `GET /health` answers 200.
    ///
    /// - Throws: ``Failure`` with the end of the server's log if it exits or is not healthy in time.
    func waitUntilHealthy(timeout: Double) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if httpGetStatus(port: port, path: "/health") == 200 { return }
            if let process = lock.withLock({ self.process }), !process.isRunning {
                throw Failure(description: "llama-server exited (\(process.terminationStatus)): \(logTail())")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw Failure(description: "llama-server not healthy on port \(port) after \(timeout) s: \(logTail())")
    }

    /// Kills the server (SIGKILL) and waits for it to exit.
    func kill() {
        guard let process = lock.withLock({ self.process.take() }) else { return }
        if process.isRunning { killProcess(process.processIdentifier) }
        process.waitUntilExit()
    }

    /// Kills the server and starts it again on the same port.
    func restart(timeout: Double) async throws {
        kill()
        try start()
        try await waitUntilHealthy(timeout: timeout)
    }

    /// How many times the server was started.
    var startCount: Int { lock.withLock { starts } }

    /// The last lines of the current run's output, for failure messages.
    func logTail() -> String {
        let path = lock.withLock { logPath }
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? "(no log at \(path))"
        return text.split(separator: "\n").suffix(8).joined(separator: "\n")
    }

    deinit { kill() }
}

/// SIGKILL to a process (a free function: inside the class, `kill` is the method).
private func killProcess(_ pid: Int32) {
    _ = kill(pid, SIGKILL)
}
