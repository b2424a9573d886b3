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
