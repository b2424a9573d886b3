extension Document {
    /// Records that the document passed a stage: raises `darwin.level` and appends `STAGE:step` entries
    /// to `darwin.history`, keeping every other `darwin` field.
    public mutating func recordPassage(stage: String, level: Level, steps: [String]) {
        var darwin = self["darwin"]?.objectValue ?? JSONObject()
        let previous = darwin["level"]?.intValue ?? -1
        darwin["level"] = .number(JSONNumber(max(previous, level.rawValue)))
        var history = darwin["history"]?.arrayValue ?? []
        for step in steps { history.append(.string("\(stage):\(step)")) }
        darwin["history"] = .array(history)
        if darwin["parent"] == nil { darwin["parent"] = .null }
        self["darwin"] = .object(darwin)
    }

    /// Marks a dropped document with the stage, step, rule and detail that dropped it
    /// (`darwin.rejected`), for the `_rejected/` shards and `darwin inspect`.
    public mutating func recordRejection(stage: String, step: String, rule: String, detail: JSONValue?) {
        var darwin = self["darwin"]?.objectValue ?? JSONObject()
        var rejected = JSONObject([
            (key: "stage", value: .string(stage)), (key: "step", value: .string(step)),
            (key: "rule", value: .string(rule)),
        ])
        if let detail { rejected["detail"] = detail }
        darwin["rejected"] = .object(rejected)
        self["darwin"] = .object(darwin)
    }

    /// The rejection recorded by ``recordRejection(stage:step:rule:detail:)``, if any.
    public var rejection: (stage: String, step: String, rule: String, detail: JSONValue?)? {
        guard let r = value(atPath: "darwin.rejected")?.objectValue,
            let stage = r["stage"]?.stringValue, let step = r["step"]?.stringValue, let rule = r["rule"]?.stringValue
        else { return nil }
        return (stage, step, rule, r["detail"])
    }
}

// MARK: - Documents made by steps

extension Document {
    /// The id of the `index`-th document a step made from `parent`: `PARENT#STAGE:STEP:INDEX`.
    ///
    /// Deterministic: the same parent, stage, step and index give the same id in every run.
    public static func derivedID(parent: String, stage: String, step: String, index: Int) -> String {
        "\(parent)#\(stage):\(step):\(index)"
    }

    /// The id of a document a step merged from `parents`: `STAGE:STEP:` and the first 16 hex digits of the
    /// XXH3-128 of the parents' ids, one a line, in order.
    public static func mergedID(parents: [String], stage: String, step: String) -> String {
        let h = Hashing.xxh128(parents.joined(separator: "\n"))
        return "\(stage):\(step):" + Hashing.hex(h.high)
    }

    /// A new document a step made from `parent` (a chunk, a question about it, …).
    ///
    /// The rule for what it inherits: every top-level field of the parent except `id`, `text` and `darwin`
    /// (so `source`, `url`, `added`, `metadata` and unknown fields are carried over, in the parent's order and
    /// spelling);
    /// its `darwin` holds the parent's `level` and `history`, `parent` = the parent's id, and `created` =
    /// `STAGE:step`. The step may change any field afterwards.
    public static func derived(from parent: Document, context: StepContext, index: Int, text: String) -> Document {
        let id = derivedID(parent: parent.id, stage: context.stage, step: context.step, index: index)
        return inheriting(from: parent, id: id, text: text, parent: .string(parent.id), context: context)
    }

    /// A new document a step made by merging `parents` (at least one), in order (a context of related
    /// documents, say).
    ///
    /// It inherits from the first parent as ``derived(from:context:index:text:)`` does, with `darwin.parent`
    /// the list of the parents' ids and `darwin.level` the highest of theirs.
    public static func merged(from parents: [Document], context: StepContext, text: String) -> Document {
        precondition(!parents.isEmpty, "a merge needs at least one parent")
        let ids = parents.map(\.id)
        var doc = inheriting(
            from: parents[0], id: mergedID(parents: ids, stage: context.stage, step: context.step), text: text,
            parent: .array(ids.map(JSONValue.string)), context: context)
        let level = parents.compactMap { $0.value(atPath: "darwin.level")?.intValue }.max()
        if let level { doc.setValue(.number(JSONNumber(level)), atPath: "darwin.level") }
        return doc
    }

    private static func inheriting(
        from parent: Document, id: String, text: String, parent link: JSONValue, context: StepContext
    ) -> Document {
        // A copy keeps the parent's fields in their order and bytes; only id, text and darwin are new.
        var doc = parent
        doc["id"] = .string(id)
        doc.text = text
        let old = parent["darwin"]?.objectValue ?? JSONObject()
        var darwin = JSONObject()
        if let level = old["level"] { darwin["level"] = level }
        if let history = old["history"] { darwin["history"] = history }
        darwin["parent"] = link
        darwin["created"] = .string("\(context.stage):\(context.step)")
        doc["darwin"] = .object(darwin)
        return doc
    }

    /// The ids in `darwin.parent`: none, one, or several for a merge.
    public var parentIDs: [String] {
        switch value(atPath: "darwin.parent") {
        case .string(let s)?: return [s]
        case .array(let a)?: return a.compactMap(\.stringValue)
        default: return []
        }
    }
}

extension Document: Equatable {
    /// Two documents are equal when they serialise to the same JSON bytes.
    public static func == (a: Document, b: Document) -> Bool {
        var x: [UInt8] = []
        var y: [UInt8] = []
        a.serialize(into: &x)
        b.serialize(into: &y)
        return x == y
    }
}
