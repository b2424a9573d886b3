import CFastText
import DarwinCore
import Foundation

/// A loaded fastText model, shared read-only by every task that uses the same file.
final class FastTextModel: @unchecked Sendable {
    // @unchecked: the C model is immutable after loading and its predict path is thread-safe; per-thread
    // state lives in `FastTextPredictor`.

    let path: String
    let handle: OpaquePointer
    /// Labels without the "__label__" prefix.
    let labels: [String]
    let isSupervised: Bool
    let dimension: Int

    fileprivate init(path: String, handle: OpaquePointer) {
        self.path = path
        self.handle = handle
        isSupervised = cft_model_is_supervised(handle) != 0
        dimension = Int(cft_model_dim(handle))
        labels = (0..<Int(cft_model_label_count(handle))).map { i in
            let raw = String(cString: cft_model_label(handle, Int32(i)))
            return raw.hasPrefix("__label__") ? String(raw.dropFirst(9)) : raw
        }
    }

    deinit { cft_model_free(handle) }

    /// The indices of labels named in a recipe; an unknown one is a ``ParameterError`` suggesting the nearest.
    func labelIndices(_ names: [String], parameter: String, noun: String = "label") throws -> [Int] {
        try Self.labelIndices(names, in: labels, path: path, parameter: parameter, noun: noun)
    }

    /// The indices of `names` in `labels`; an unknown one is a ``ParameterError`` suggesting the nearest.
    static func labelIndices(_ names: [String], in labels: [String], path: String, parameter: String, noun: String)
        throws -> [Int]
    {
        try names.map { name in
            guard let i = labels.firstIndex(of: name) else {
                var message = "unknown \(noun) '\(name)' for \(path.split(separator: "/").last ?? "")"
                if let near = nearest(name, in: labels) { message += "; did you mean '\(near)'?" }
                message += " (the model's \(noun)s: \(labels.prefix(12).joined(separator: ", "))"
                message += labels.count > 12 ? ", …)" : ")"
                throw ParameterError(parameter, message)
            }
            return i
        }
    }

    /// Training arguments: minn, maxn, wordNgrams and the loss, as stored in the model.
    var trainingArguments: (minn: Int, maxn: Int, wordNgrams: Int, loss: String) {
        var minn: Int32 = 0, maxn: Int32 = 0, ngrams: Int32 = 0
        var loss: UnsafePointer<CChar>? = nil
        cft_model_args(handle, &minn, &maxn, &ngrams, &loss)
        return (Int(minn), Int(maxn), Int(ngrams), loss.map { String(cString: $0) } ?? "")
    }

    /// Saves the model in fastText's binary format.
    func save(to path: String) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard cft_model_save(handle, path, &error, error.count) == 0 else {
            throw StepError(.shard, "cannot save the model to \(path): \(Self.message(error))")
        }
    }

    /// Quantizes the model in place, as `fasttext quantize` (call before any prediction).
    func quantize(retrainOn input: String?, cutoff: Int, qnorm: Bool, qout: Bool, dsub: Int) throws {
        var error = [CChar](repeating: 0, count: 512)
        guard
            cft_model_quantize(
                handle, input, cutoff, input == nil ? 0 : 1, qnorm ? 1 : 0, qout ? 1 : 0,
                Int32(dsub), &error, error.count) == 0
        else {
            throw StepError(.shard, "cannot quantize the model: \(Self.message(error))")
        }
    }

    fileprivate static func message(_ error: [CChar]) -> String {
        String(decoding: error.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private let poolLock = NSLock()
    private var pool: [FastTextPredictor] = []

    /// A predictor for one task; its token cache carries over to the next task of the thread that returns it.
    func lease() throws -> PredictorLease {
        let reused = poolLock.withLock { pool.popLast() }
        return PredictorLease(predictor: try reused ?? FastTextPredictor(model: self), model: self)
    }

    fileprivate func giveBack(_ p: FastTextPredictor) { poolLock.withLock { pool.append(p) } }

    /// The supervised classifier named by a step's `model` parameter (a path, or a file name found by
    /// ``ModelLocator``), loaded once per process (``ResourceRegistry``).
    static func classifier(_ name: String, parameter: String) throws -> FastTextModel {
        let path = try ModelLocator.resolve(name, parameter: parameter)
        let model = try shared(path: path, parameter: parameter)
        guard model.isSupervised, !model.labels.isEmpty else {
            throw ParameterError(parameter, "\(path) is a word-vector model, not a classifier")
        }
        return model
    }

    /// The model file a step's `model` parameter names, for the job's identity of it.
    static let resources: @Sendable (Parameters) throws -> [ResourceReference] = { p in
        [ResourceReference(parameter: "model", path: try ModelLocator.resolve(p.string("model"), parameter: "model"))]
    }

    /// The header of the supervised classifier a `model` parameter names, read without loading it: for
    /// checking a recipe.
    static func classifierHeader(_ name: String, parameter: String) throws -> (path: String, header: FastTextHeader) {
        let path = try ModelLocator.resolve(name, parameter: parameter)
        let header = try FastTextHeader(path: path, parameter: parameter)
        guard header.isSupervised, !header.labels.isEmpty else {
            throw ParameterError(parameter, "\(path) is a word-vector model, not a classifier")
        }
        return (path, header)
    }

    /// The model at `path`, loaded once per process.
    ///
    /// - Throws: ``ParameterError`` naming the file and why it cannot be used.
    static func shared(path: String, parameter: String) throws -> FastTextModel {
        try ResourceRegistry.shared.resource("fasttext model", path) {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir), !isDir.boolValue else {
                throw ParameterError(parameter, "model file \(path) does not exist")
            }
            var error = [CChar](repeating: 0, count: 512)
            guard let h = cft_model_load(path, &error, error.count) else {
                throw ParameterError(parameter, "cannot load fastText model \(path): \(message(error))")
            }
            return FastTextModel(path: path, handle: h)
        }
    }
}

/// Training arguments of a supervised fastText model, with the fastText CLI's defaults for `supervised`.
public struct FastTextTrainingArguments: Sendable, Equatable, Codable {
    public var lr = 0.1
    public var lrUpdateRate = 100
    public var dim = 100
    public var ws = 5
    public var epoch = 5
    public var minCount = 1
    public var minCountLabel = 0
    public var neg = 5
    public var wordNgrams = 1
    public var bucket = 2_000_000
    public var minn = 0
    public var maxn = 0
    public var threads = 1
    public var sampling = 0.0001
    public var loss = "softmax"
    public var seed = 0

    public init() {}

    /// The same arguments as fastText CLI flags, e.g. for `fasttext supervised`.
    public var cliFlags: [String] {
        [
            "-lr", "\(lr)", "-lrUpdateRate", "\(lrUpdateRate)", "-dim", "\(dim)", "-ws", "\(ws)", "-epoch", "\(epoch)",
            "-minCount", "\(minCount)", "-minCountLabel", "\(minCountLabel)", "-neg", "\(neg)", "-wordNgrams",
            "\(wordNgrams)", "-bucket", "\(bucket)", "-minn", "\(minn)", "-maxn", "\(maxn)", "-thread", "\(threads)",
            "-t", "\(sampling)", "-loss", loss, "-seed", "\(seed)",
        ]
    }
}

extension FastTextModel {
    /// Trains a supervised model on a fastText training file (`__label__x text` lines).
    ///
    /// - Parameter progress: called now and then with the share done and the running loss.
    static func train(
        input: String, arguments a: FastTextTrainingArguments, progress: ((Float, Float) -> Void)? = nil
    ) throws -> FastTextModel {
        final class Box {
            let f: ((Float, Float) -> Void)?
            init(_ f: ((Float, Float) -> Void)?) { self.f = f }
        }
        let box = Box(progress)
        var error = [CChar](repeating: 0, count: 512)
        let handle: OpaquePointer? = input.withCString { inputPtr in
            a.loss.withCString { lossPtr in
                var c = cft_train_args(
                    input: inputPtr, lr: a.lr, lr_update_rate: Int32(a.lrUpdateRate), dim: Int32(a.dim),
                    ws: Int32(a.ws), epoch: Int32(a.epoch), min_count: Int32(a.minCount),
                    min_count_label: Int32(a.minCountLabel), neg: Int32(a.neg), word_ngrams: Int32(a.wordNgrams),
                    bucket: Int32(a.bucket), minn: Int32(a.minn), maxn: Int32(a.maxn), threads: Int32(a.threads),
                    sampling: a.sampling, loss: lossPtr, seed: Int32(a.seed))
                let context = Unmanaged.passUnretained(box).toOpaque()
                return withExtendedLifetime(box) {
                    cft_train(
                        &c,
                        progress == nil
                            ? nil
                            : { ctx, done, loss, _ in
                                guard let ctx else { return }
                                Unmanaged<Box>.fromOpaque(ctx).takeUnretainedValue().f?(done, loss)
                            }, context, &error, error.count)
                }
            }
        }
        guard let handle else { throw StepError(.shard, "fastText training failed: \(message(error))") }
        return FastTextModel(path: "", handle: handle)
    }
}

/// A predictor on loan; returned to its model's pool when the step that holds it goes away.
final class PredictorLease {
    let predictor: FastTextPredictor
    private let model: FastTextModel

    fileprivate init(predictor: FastTextPredictor, model: FastTextModel) {
        self.predictor = predictor
        self.model = model
    }

    deinit { model.giveBack(predictor) }
}

/// Predictions of one thread, with a token cache.
final class FastTextPredictor {
    let model: FastTextModel
    private let handle: OpaquePointer
    private var labels: [Int32]
    private var probs: [Float]

    init(model: FastTextModel, cacheEntries: Int = 1_000_000) throws {
        self.model = model
        guard let h = cft_predictor_new(model.handle, cacheEntries) else {
            throw StepError(.shard, "cannot create a fastText predictor (out of memory)")
        }
        handle = h
        labels = Array(repeating: 0, count: max(1, model.labels.count))
        probs = Array(repeating: 0, count: max(1, model.labels.count))
    }

    deinit { cft_predictor_free(handle) }

    /// The top `k` labels (all when k <= 0) with probability ≥ `threshold`, best first.
    func predict(_ text: String, k: Int = -1, threshold: Float = 0) throws -> [(label: Int, probability: Float)] {
        try call(text) { h, chars, count, l, p in cft_predict(h, chars, count, Int32(k), threshold, l, p) }
    }

    /// The best label whatever its probability, then every other label with probability ≥ `threshold`, best
    /// first; the label tree is only searched above the threshold, so this is cheaper than `predict`.
    func predictBest(_ text: String, threshold: Float) throws -> [(label: Int, probability: Float)] {
        try call(text) { h, chars, count, l, p in cft_predict_best(h, chars, count, threshold, l, p) }
    }

    private func call(
        _ text: String,
        _ body: (OpaquePointer, UnsafePointer<CChar>?, Int, UnsafeMutablePointer<Int32>?, UnsafeMutablePointer<Float>?)
            -> Int32
    ) throws -> [(label: Int, probability: Float)] {
        var text = text
        let handle = self.handle
        let n = text.withUTF8 { buf in
            buf.withMemoryRebound(to: CChar.self) { chars in
                labels.withUnsafeMutableBufferPointer { l in
                    probs.withUnsafeMutableBufferPointer { p in
                        body(handle, chars.baseAddress, chars.count, l.baseAddress, p.baseAddress)
                    }
                }
            }
        }
        guard n >= 0 else { throw StepError(.document, "fastText prediction failed") }
        return (0..<Int(n)).map { (Int(labels[$0]), probs[$0]) }
    }

    /// The reference `predictLine` path (no cache), for checks.
    func predictReference(_ text: String, k: Int = -1, threshold: Float = 0) -> [(label: Int, probability: Float)] {
        let model = self.model.handle
        let predictions = try? call(text) { _, chars, count, l, p in
            cft_predict_reference(model, chars, count, Int32(k), threshold, l, p)
        }
        return predictions ?? []
    }
}

/// Where model files are found.
enum ModelLocator {
    /// `subfolder` of the current directory, then of the checkout the binary was built in
    /// (`<root>/.build/<config>/darwin`).
    static func folders(_ subfolder: String) -> [String] {
        var dirs = [FileManager.default.currentDirectoryPath + "/" + subfolder]
        var root = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<3 {
            root = root.deletingLastPathComponent()
            dirs.append(root.path + "/" + subfolder)
        }
        return dirs
    }

    /// Resolves a model parameter: a path as given (relative to the current directory), or a bare file
    /// name looked up in $DARWIN_MODELS, ./.cache/models and the .cache/models of darwin's checkout.
    static func resolve(_ name: String, parameter: String) throws -> String {
        if name.contains("/") { return name }
        var dirs: [String] = []
        if let env = ProcessInfo.processInfo.environment["DARWIN_MODELS"] { dirs.append(env) }
        dirs += folders(".cache/models")
        for d in dirs where FileManager.default.fileExists(atPath: d + "/" + name) { return d + "/" + name }
        throw ParameterError(
            parameter,
            "model \(name) not found (looked in \(dirs.joined(separator: ", "))); fetch published models with scripts/fetch-models, train one with darwin train-classifier, or give a path"
        )
    }
}
