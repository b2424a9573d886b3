import Foundation

/// A file a step reads besides documents (a model, a block list, benchmark items), named in its parameters.
///
/// A job identifies each by the hash of its content, not by its path: replacing a model under the same name
/// changes the fingerprint of every stage that uses it, exactly as a changed parameter does.
public struct ResourceReference: Sendable, Hashable {
    /// The parameter that names it.
    public var parameter: String
    /// The resolved path (a file, or a folder whose files all count).
    public var path: String

    public init(parameter: String, path: String) {
        self.parameter = parameter
        self.path = path
    }
}

/// Heavy things steps share — models, tokenizers, block lists, benchmark indexes — opened once per process at
/// first use, shared by every worker, and released when the run ends.
///
/// Keyed by a kind and a path (or any string that identifies what was opened from it). Opening happens under
/// the registry's lock for that key only, so two workers asking for the same model wait for one load, while
/// different models load side by side.
public final class ResourceRegistry: @unchecked Sendable {
    // @unchecked: guarded by `lock`; each entry's value is Sendable.
    public static let shared = ResourceRegistry()

    private let lock = NSLock()
    private var entries: [String: Entry] = [:]

    private final class Entry: @unchecked Sendable {
        // @unchecked: `value` is written once under `lock` before any reader sees `ready`.
        let lock = NSLock()
        var value: (any Sendable)?
    }

    public init() {}

    /// The resource of `kind` at `key`, opened by `open` the first time it is asked for.
    public func resource<T: Sendable>(_ kind: String, _ key: String, open: () throws -> T) throws -> T {
        let entry = lock.withLock {
            if let e = entries[kind + "\u{0}" + key] { return e }
            let e = Entry()
            entries[kind + "\u{0}" + key] = e
            return e
        }
        return try entry.lock.withLock {
            if let v = entry.value as? T { return v }
            let v = try open()
            entry.value = v
            return v
        }
    }

    /// Releases every resource (they are freed once no step holds them any more).
    public func close() { lock.withLock { entries.removeAll() } }
}
