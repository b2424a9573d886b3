import Foundation

/// An exclusive `flock` on a job folder for one rank, released by the kernel when the process dies.
///
/// A second `darwin run` on the same folder and rank is refused with the holder's pid and host.
public final class JobLock {
    public let path: String
    private let fd: Int32

    /// Takes the lock, or throws a one-line explanation naming the holder.
    public init(path: String) throws(RunError) {
        self.path = path
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw .io("cannot open lock file \(path): \(String(cString: strerror(errno)))")
        }
        if flock(fd, LOCK_EX | LOCK_NB) != 0 {
            let holder =
                (try? String(contentsOfFile: path, encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
            close(fd)
            throw .locked(
                "another darwin run\(holder.isEmpty ? "" : " (\(holder))") is working on \((path as NSString).deletingLastPathComponent.replacingOccurrences(of: "/provenance", with: "")); wait for it to finish or stop it"
            )
        }
        self.fd = fd
        let me = "pid \(getpid()) on \(ProcessInfo.processInfo.hostName)"
        _ = ftruncate(fd, 0)
        _ = me.withCString { pwrite(fd, $0, strlen($0), 0) }
    }

    deinit {
        flock(fd, LOCK_UN)
        close(fd)
    }

    /// Whether some process holds the lock at `path` right now (without taking it).
    public static func isHeld(_ path: String) -> Bool {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) != 0 { return true }
        flock(fd, LOCK_UN)
        return false
    }
}

/// Why a run could not start or finish.
public enum RunError: Error, Sendable, CustomStringConvertible {
    /// The recipe is invalid.
    case recipe(RecipeError)
    /// Another process holds the job.
    case locked(String)
    /// The recipe differs from the one the job ran with.
    case recipeChanged(String)
    /// The output folder cannot be used.
    case output(String)
    /// Provenance cannot be read or written.
    case provenance(String)
    /// A file system operation failed.
    case io(String)

    public var description: String {
        switch self {
        case .recipe(let e): return e.description
        case .locked(let m), .recipeChanged(let m), .output(let m), .provenance(let m), .io(let m): return m
        }
    }
}
