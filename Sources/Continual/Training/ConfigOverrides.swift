/// `--set key=value` overrides and partial JSON decoding of `RunConfig`, driven by one table of keys
/// (`RunConfig.fields`): each key knows its type, its help text, how to parse a command-line string and how to
/// decode and encode its JSON value. An unknown key or a value of the wrong type is an error naming the key.
///
/// One spelling per option: a key such as `loss-classes` is the config-file key, the `--set` / `--grid` key and the
/// flag (`--loss-classes`). The camelCase spelling of earlier versions (`lossClasses`) is still accepted, with a note.

extension RunConfig {
    /// Applies one override, e.g. `set(key: "attention.heads", value: "8")` or
    /// `set(key: "milestones", value: "4,10")`. Types are checked; ranges are checked by `validate()`.
    /// Returns a note when `key` was given in its old spelling.
    @discardableResult
    public mutating func set(key: String, value: String) throws(ContinualError) -> String? {
        guard let (canonical, note) = RunConfig.canonicalKey(key), let field = RunConfig.fieldTable[canonical] else {
            throw .invalidConfig(key: key, reason: "unknown key (known keys: \(RunConfig.keys.joined(separator: ", ")))")
        }
        try field.parse(&self, value)
        return note
    }

    /// Applies `key=value` (the text after `--set`).
    @discardableResult
    public mutating func set(_ assignment: String) throws(ContinualError) -> String? {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw .invalidConfig(key: assignment, reason: "expected key=value")
        }
        return try set(key: String(assignment[..<eq]), value: String(assignment[assignment.index(after: eq)...]))
    }

    /// Every settable key, in declaration order.
    public static var keys: [String] { fields.map(\.key) }

    /// The type of a key as shown in help texts ("Int", "Float", "one of adam|adamw|sgd", …).
    public static func typeDescription(of key: String) -> String? { fieldTable[key]?.typeDescription }

    /// What a key does, for help texts.
    public static func help(of key: String) -> String? { fieldTable[key]?.help }

    /// The current value of `key` as an override string.
    public func value(of key: String) -> String? { RunConfig.fieldTable[key]?.describe(self) }

    /// The key `key` names (itself, or the kebab-case form of an old camelCase spelling, with a note), or nil.
    public static func canonicalKey(_ key: String) -> (key: String, note: String?)? {
        if fieldTable[key] != nil { return (key, nil) }
        let kebab = ConfigSpelling.kebab(key)
        guard fieldTable[kebab] != nil else { return nil }
        return (kebab, ConfigSpelling.note(old: key, new: kebab))
    }

    static let fields: [ConfigField] = [
        .init("method", \.method, "Method to run"),
        .init("retention", \.retention, "Parameter retention after each task t >= 1"),
        .init("rho", \.rho, "topk: fraction of entries (per tensor) that keep their new value"),
        .init("bias", \.bias, "soft, soft-svd: mask bias b (RAPF mix_bias)"),
        .init("init", \.`init`, "Linear adapter initialisation"),
        .init("normalize-input", \.normalizeInput, "Linear adapter: L2-normalise the embedding before W as well"),
        .init("loss-classes", \.lossClasses, "Training softmax over the seen classes or the current task's (auto: seen with replay)"),
        .init("replay", \.replay, "Replay Gaussian pseudo-features of old classes (linear adapter; RAPF)"),
        .init("initial", \.initial, "Classes in the first task (0 = same as increment)"),
        .init("increment", \.increment, "Classes per later task"),
        .init("epochs", \.epochs, "Epochs per task"),
        .init("lr", \.lr, "Learning rate"),
        .init("batch-size", \.batchSize, "Training batch size"),
        .init("eval-batch-size", \.evalBatchSize, "Evaluation batch size (memory only)"),
        .init("optimizer", \.optimizer, "Optimiser, new for every task"),
        .init("weight-decay", \.weightDecay, "Weight decay"),
        .init("momentum", \.momentum, "SGD momentum"),
        .init("schedule", \.schedule, "Learning-rate schedule"),
        .init("milestones", \.milestones, "multistep: epochs at which the rate is multiplied by gamma"),
        .init("gamma", \.gamma, "multistep: rate factor at each milestone"),
        .init("warmup-epochs", \.warmupEpochs, "cosine: linear warm-up length in epochs"),
        .init("min-lr-factor", \.minLRFactor, "cosine: final learning-rate factor"),
        .init("seeds", \.seeds, "Seeds, one run each (mean +- std over them)"),
        .init("attention.reading", \.attention.reading, "Attention adapter: tokens cut from the embedding, or crossmodal"),
        .init("attention.tokens", \.attention.tokens, "Attention adapter: number of tokens T"),
        .init("attention.heads", \.attention.heads, "Attention adapter: heads"),
        .init("attention.mlp-ratio", \.attention.mlpRatio, "Attention adapter: MLP width / token width"),
        .init("prompt.length", \.prompt.length, "Prompt tuning: number of context vectors M"),
        .init("prompt.init", \.prompt.`init`, "Prompt tuning: random or phrase initialisation"),
        .init("prompt.phrase", \.prompt.phrase, "Prompt tuning: phrase for phrase init"),
        .init("prompt.std", \.prompt.std, "Prompt tuning: std of the random init"),
        .init("fecam.alpha1", \.fecam.alpha1, "FeCAM: covariance shrinkage on the diagonal (x mean variance)"),
        .init("fecam.alpha2", \.fecam.alpha2, "FeCAM: covariance shrinkage off the diagonal (x mean covariance)"),
        .init("ranpac.dim", \.ranpac.dim, "RanPAC: width M of the random projection"),
        .init("ranpac.lambda", \.ranpac.lambda, "RanPAC: ridge lambda, auto (chosen per task) or a value"),
        .init("rapf.beta", \.rapf.beta, "RAPF: replay floor(10 beta) samples per old class and floor(20 beta) per hard pair"),
        .init("rapf.threshold", \.rapf.threshold, "RAPF: hard pairs are classes whose text embeddings are closer than this"),
        .init("rapf.shrinkage", \.rapf.shrinkage, "RAPF: shrink the covariances before sampling"),
        .init("rapf.classes-per-batch", \.rapf.classesPerBatch, "RAPF: old classes replayed per batch"),
        .init("rapf.hinge", \.rapf.hinge, "RAPF: hinge loss on hard pairs (margin 0.1)"),
    ]

    static let fieldTable: [String: ConfigField] = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0) })

    /// Key prefixes that are JSON objects.
    static let groups: Set<String> = ["attention", "prompt", "fecam", "ranpac", "rapf"]

    // MARK: - Decoding (any subset of keys; unknown keys rejected)

    public init(from decoder: any Decoder) throws {
        self.init()
        try decodeLevel(try decoder.container(keyedBy: ConfigKey.self), prefix: "")
    }

    private mutating func decodeLevel(_ c: KeyedDecodingContainer<ConfigKey>, prefix: String) throws {
        // Sorted so that the first unknown key reported is deterministic.
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            // Old spellings decode too (result files written before the rename); ExperimentConfig reports them.
            let path = RunConfig.canonicalKey(prefix + key.stringValue)?.key ?? (prefix + key.stringValue)
            if let field = RunConfig.fieldTable[path] {
                do {
                    try field.decode(&self, c, key)
                } catch let error as DecodingError {
                    throw ContinualError.invalidConfig(key: path, reason: "expected \(field.typeDescription) (\(Self.summary(error)))")
                }
            } else if RunConfig.groups.contains(path) {
                try decodeLevel(try c.nestedContainer(keyedBy: ConfigKey.self, forKey: key), prefix: path + ".")
            } else {
                throw ContinualError.invalidConfig(key: path, reason: "unknown key")
            }
        }
    }

    /// JSON with the canonical keys; `attention.*` and `prompt.*` as nested objects.
    public func encode(to encoder: any Encoder) throws {
        var top = encoder.container(keyedBy: ConfigKey.self)
        var groups: [String: KeyedEncodingContainer<ConfigKey>] = [:]
        for field in RunConfig.fields {
            let parts = field.key.split(separator: ".", maxSplits: 1).map(String.init)
            if parts.count == 2 {
                if groups[parts[0]] == nil {
                    groups[parts[0]] = top.nestedContainer(keyedBy: ConfigKey.self, forKey: ConfigKey(stringValue: parts[0]))
                }
                try field.encode(self, &groups[parts[0]]!, ConfigKey(stringValue: parts[1]))
            } else {
                try field.encode(self, &top, ConfigKey(stringValue: field.key))
            }
        }
    }

    private static func summary(_ error: DecodingError) -> String {
        switch error {
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx), let .keyNotFound(_, ctx), let .dataCorrupted(ctx):
            ctx.debugDescription
        @unknown default:
            "\(error)"
        }
    }
}

struct ConfigKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// One settable key of `RunConfig`.
struct ConfigField: Sendable {
    let key: String
    let typeDescription: String
    let help: String
    let parse: @Sendable (inout RunConfig, String) throws(ContinualError) -> Void
    let decode: @Sendable (inout RunConfig, KeyedDecodingContainer<ConfigKey>, ConfigKey) throws -> Void
    let encode: @Sendable (RunConfig, inout KeyedEncodingContainer<ConfigKey>, ConfigKey) throws -> Void
    let describe: @Sendable (RunConfig) -> String

    init<T: ConfigValue>(_ key: String, _ path: WritableKeyPath<RunConfig, T> & Sendable, _ help: String) {
        self.key = key
        self.help = help
        typeDescription = T.typeDescription
        parse = { (config: inout RunConfig, text: String) throws(ContinualError) in
            guard let v = T(configString: trimmed(text)) else {
                throw .invalidConfig(key: key, reason: "\"\(text)\" is not a valid \(T.typeDescription)")
            }
            config[keyPath: path] = v
        }
        decode = { config, container, codingKey in
            config[keyPath: path] = try container.decode(T.self, forKey: codingKey)
        }
        encode = { config, container, codingKey in try container.encode(config[keyPath: path], forKey: codingKey) }
        describe = { $0[keyPath: path].configString }
    }
}

/// A type that can be set from a command-line string.
protocol ConfigValue: Codable, Sendable {
    static var typeDescription: String { get }
    init?(configString: String)
    var configString: String { get }
}

extension Int: ConfigValue {
    static var typeDescription: String { "Int" }
    init?(configString s: String) { self.init(s) }
    var configString: String { "\(self)" }
}

extension Float: ConfigValue {
    static var typeDescription: String { "Float" }
    init?(configString s: String) { self.init(s) }
    var configString: String { "\(self)" }
}

extension Double: ConfigValue {
    static var typeDescription: String { "Double" }
    init?(configString s: String) { self.init(s) }
    var configString: String { "\(self)" }
}

extension Bool: ConfigValue {
    static var typeDescription: String { "Bool (true|false)" }
    init?(configString s: String) {
        switch s.lowercased() {
        case "true": self = true
        case "false": self = false
        default: return nil
        }
    }
    var configString: String { "\(self)" }
}

extension String: ConfigValue {
    static var typeDescription: String { "String" }
    init?(configString s: String) { self = s }
    var configString: String { self }
}

extension Array: ConfigValue where Element == Int {
    static var typeDescription: String { "list of Int (e.g. 4,10 or [4,10])" }
    init?(configString s: String) {
        var body = Substring(s)
        if body.hasPrefix("[") && body.hasSuffix("]") { body = body.dropFirst().dropLast() }
        let parts = body.split(separator: ",", omittingEmptySubsequences: false).map { trimmed(String($0)) }
        if parts.count == 1 && parts[0].isEmpty { self = []; return }
        var values: [Int] = []
        for p in parts {
            guard let v = Int(p) else { return nil }
            values.append(v)
        }
        self = values
    }
    var configString: String { map(String.init).joined(separator: ",") }
}

/// String enums: the value must be one of the raw values.
protocol ConfigEnum: ConfigValue, CaseIterable, RawRepresentable where RawValue == String {}

extension ConfigEnum {
    static var typeDescription: String { "one of " + allCases.map(\.rawValue).joined(separator: "|") }
    init?(configString s: String) { self.init(rawValue: s) }
    var configString: String { rawValue }
}

extension MethodKind: ConfigEnum {}

extension RidgeLambda: ConfigValue {
    static var typeDescription: String { "auto or a number" }
    init?(configString s: String) { self.init(text: s) }
    var configString: String {
        switch self {
        case .auto: "auto"
        case let .value(v): "\(v)"
        }
    }
}
extension RetentionKind: ConfigEnum {}
extension ReplayKind: ConfigEnum {}
extension AdapterInit: ConfigEnum {}
extension LossClasses: ConfigEnum {}
extension OptimizerKind: ConfigEnum {}
extension ScheduleKind: ConfigEnum {}
extension AttentionReading: ConfigEnum {}
extension PromptInit: ConfigEnum {}

/// `text` without leading and trailing whitespace.
private func trimmed(_ text: String) -> String {
    var s = Substring(text)
    while let f = s.first, f.isWhitespace { s = s.dropFirst() }
    while let l = s.last, l.isWhitespace { s = s.dropLast() }
    return String(s)
}

/// The one spelling of config keys: kebab-case, dotted for groups (`attention.mlp-ratio`).
public enum ConfigSpelling {
    /// `lossClasses` → `loss-classes`, `minLRFactor` → `min-lr-factor`, `attention.mlpRatio` → `attention.mlp-ratio`.
    public static func kebab(_ key: String) -> String {
        key.split(separator: ".", omittingEmptySubsequences: false).map { part -> String in
            let chars = Array(part)
            var out = ""
            for (i, c) in chars.enumerated() {
                // A capital starts a word, except inside an acronym (a capital after a capital, not before a lowercase).
                let startsWord = c.isUppercase && i > 0
                    && (!chars[i - 1].isUppercase || (i + 1 < chars.count && chars[i + 1].isLowercase))
                if startsWord { out += "-" }
                out += c.lowercased()
            }
            return out
        }.joined(separator: ".")
    }

    static func note(old: String, new: String) -> String {
        "note: '\(old)' is now spelled '\(new)' (the old spelling still works)"
    }
}
