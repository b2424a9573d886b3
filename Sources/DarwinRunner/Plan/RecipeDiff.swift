import DarwinCore
import DarwinProvenance

/// What changed between the stages a job ran with and a new recipe.
public struct RecipeDiff: Sendable {
    /// Position of the first stage whose results are no longer valid, if any.
    public let firstInvalidStage: Int?
    /// One line per change, in stage order.
    public let changes: [String]
    /// Stages only in the new recipe (appended; no existing result is affected).
    public let addedStages: [String]

    /// Compares recorded stages with a full plan (not cut by `--until`).
    public init(recorded: [StageRecord], planned: [StagePlan]) {
        var changes: [String] = []
        var first: Int?
        var added: [String] = []
        for i in 0..<max(recorded.count, planned.count) {
            if i >= recorded.count {
                added.append(planned[i].spec.name)
                continue
            }
            let old = recorded[i]
            guard i < planned.count else {
                changes.append("stage '\(old.name)' was removed from the recipe")
                if first == nil { first = i }
                continue
            }
            let new = planned[i]
            if old.fingerprint == new.fingerprint { continue }
            if first == nil { first = i }
            let details = Self.describe(old: old.definition, new: new.definition)
            if details.isEmpty {
                changes.append("stage '\(new.spec.name)' depends on a changed stage before it")
            } else {
                for d in details { changes.append("stage '\(new.spec.name)': \(d)") }
            }
        }
        self.firstInvalidStage = first
        self.changes = changes
        self.addedStages = added
    }

    /// Human-readable differences between two stage definitions.
    static func describe(old: String, new: String) -> [String] {
        guard let a = (try? JSONValue.parse(old))?.objectValue, let b = (try? JSONValue.parse(new))?.objectValue else {
            return ["definition changed"]
        }
        var out: [String] = []
        if a["name"] != b["name"] {
            out.append("renamed from '\(a["name"]?.stringValue ?? "")' to '\(b["name"]?.stringValue ?? "")'")
        }
        if a["level"] != b["level"] {
            out.append("level L\(a["level"]?.intValue ?? -1) → L\(b["level"]?.intValue ?? -1)")
        }
        if a["seed"] != b["seed"] { out.append("seed \(show(a["seed"])) → \(show(b["seed"]))") }
        if a["output"] != b["output"] { out.append("output settings \(show(a["output"])) → \(show(b["output"]))") }
        out += describeInput(a["input"], b["input"])
        out += describeSteps(a["steps"]?.arrayValue ?? [], b["steps"]?.arrayValue ?? [])
        return out
    }

    private static func describeInput(_ a: JSONValue?, _ b: JSONValue?) -> [String] {
        guard a != b, let a = a?.objectValue, let b = b?.objectValue else { return [] }
        var out: [String] = []
        for key in Set(a.keys + b.keys).sorted() where key != "shards" && key != "files" && a[key] != b[key] {
            out.append("input \(key) \(show(a[key])) → \(show(b[key]))")
        }
        if a["files"] != nil, b["files"] != nil, a["files"] != b["files"], a["shards"] == b["shards"] {
            out.append("input files of the shards changed")
        }
        // Shards are names (older jobs recorded [name, size] pairs).
        func shards(_ o: JSONObject) -> Set<String> {
            Set((o["shards"]?.arrayValue ?? []).compactMap { $0.stringValue ?? $0.arrayValue?.first?.stringValue })
        }
        let sa = shards(a), sb = shards(b)
        let added = sb.subtracting(sa).sorted()
        let removed = sa.subtracting(sb).sorted()
        func list(_ names: [String]) -> String {
            names.prefix(3).joined(separator: ", ") + (names.count > 3 ? ", …" : "")
        }
        if !added.isEmpty { out.append("input has \(added.count) new shard(s): \(list(added))") }
        if !removed.isEmpty { out.append("input lost \(removed.count) shard(s): \(list(removed))") }
        if out.isEmpty, a["shards"] != b["shards"] { out.append("input shards recorded differently (an older darwin)") }
        return out
    }

    private static func describeSteps(_ a: [JSONValue], _ b: [JSONValue]) -> [String] {
        func name(_ v: JSONValue) -> String { v.objectValue?["name"]?.stringValue ?? "?" }
        let na = a.map(name), nb = b.map(name)
        var out: [String] = []
        if na != nb {
            let removed = na.filter { !nb.contains($0) }
            let added = nb.filter { !na.contains($0) }
            if !removed.isEmpty { out.append("steps removed: \(removed.joined(separator: ", "))") }
            if !added.isEmpty { out.append("steps added: \(added.joined(separator: ", "))") }
            if removed.isEmpty && added.isEmpty {
                out.append("steps reordered: \(na.joined(separator: ", ")) → \(nb.joined(separator: ", "))")
            }
        }
        for sa in a {
            guard let sb = b.first(where: { name($0) == name(sa) }), let oa = sa.objectValue, let ob = sb.objectValue
            else { continue }
            let step = name(sa)
            if oa["version"] != ob["version"] {
                out.append(
                    "step \(step) version \(show(oa["version"])) → \(show(ob["version"])) (darwin changed its behaviour)"
                )
            }
            let ra = oa["resources"]?.objectValue ?? JSONObject(), rb = ob["resources"]?.objectValue ?? JSONObject()
            for key in Set(ra.keys + rb.keys).sorted() where ra[key] != rb[key] {
                out.append(
                    "step \(step) \(key): the file changed (\(files(ra[key])) → \(files(rb[key])))")
            }
            let pa = oa["parameters"]?.objectValue ?? JSONObject(), pb = ob["parameters"]?.objectValue ?? JSONObject()
            for key in Set(pa.keys + pb.keys).sorted() where pa[key] != pb[key] {
                out.append("step \(step) parameter \(key) \(show(pa[key])) → \(show(pb[key]))")
            }
        }
        return out
    }

    /// `lid.176.ftz 1a2b3c4d…`: file names with the start of their content hashes.
    private static func files(_ v: JSONValue?) -> String {
        let list = (v?.arrayValue ?? []).compactMap(\.stringValue).map { entry -> String in
            let parts = entry.split(separator: " ")
            guard parts.count == 2 else { return entry }
            return "\(parts[0]) \(parts[1].prefix(12))…"
        }
        return list.isEmpty ? "none" : list.joined(separator: ", ")
    }

    private static func show(_ v: JSONValue?) -> String {
        guard let v else { return "(unset)" }
        return JSONWriter.string(v)
    }
}
