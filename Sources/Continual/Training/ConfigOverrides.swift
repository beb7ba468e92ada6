/// `--set path.to.key=value` overrides and partial JSON decoding of `RunConfig`, driven by one
/// table of keys (`RunConfig.fields`): each key knows its type, how to parse a command-line string
/// and how to decode its JSON value. An unknown key or a value of the wrong type is an error naming
/// the key.

extension RunConfig {
    /// Applies one override, e.g. `set(key: "attention.heads", value: "8")` or
    /// `set(key: "milestones", value: "4,10")`. Types are checked; ranges are checked by `validate()`.
    public mutating func set(key: String, value: String) throws(ContinualError) {
        guard let field = RunConfig.fieldTable[key] else {
            throw .invalidConfig(key: key, reason: "unknown key (known keys: \(RunConfig.keys.joined(separator: ", ")))")
        }
        try field.parse(&self, value)
    }

    /// Applies `key=value` (the text after `--set`).
    public mutating func set(_ assignment: String) throws(ContinualError) {
        guard let eq = assignment.firstIndex(of: "=") else {
            throw .invalidConfig(key: assignment, reason: "expected key=value")
        }
        try set(key: String(assignment[..<eq]), value: String(assignment[assignment.index(after: eq)...]))
    }

    /// Every settable key, in declaration order.
    public static var keys: [String] { fields.map(\.key) }

    /// The type of a key as shown in help texts ("Int", "Float", "one of adam|adamw|sgd", …).
    public static func typeDescription(of key: String) -> String? { fieldTable[key]?.typeDescription }

    /// The current value of `key` as an override string.
    public func value(of key: String) -> String? { RunConfig.fieldTable[key]?.describe(self) }

    static let fields: [ConfigField] = [
        .init("method", \.method), .init("retention", \.retention), .init("rho", \.rho), .init("bias", \.bias),
        .init("init", \.`init`), .init("normalizeInput", \.normalizeInput), .init("lossClasses", \.lossClasses),
        .init("initial", \.initial), .init("increment", \.increment), .init("epochs", \.epochs), .init("lr", \.lr),
        .init("batchSize", \.batchSize), .init("evalBatchSize", \.evalBatchSize), .init("optimizer", \.optimizer),
        .init("weightDecay", \.weightDecay), .init("momentum", \.momentum), .init("schedule", \.schedule),
        .init("milestones", \.milestones), .init("gamma", \.gamma), .init("warmupEpochs", \.warmupEpochs),
        .init("minLRFactor", \.minLRFactor), .init("seeds", \.seeds),
        .init("attention.reading", \.attention.reading), .init("attention.tokens", \.attention.tokens),
        .init("attention.heads", \.attention.heads), .init("attention.mlpRatio", \.attention.mlpRatio),
        .init("prompt.length", \.prompt.length), .init("prompt.init", \.prompt.`init`),
        .init("prompt.phrase", \.prompt.phrase), .init("prompt.std", \.prompt.std),
    ]

    static let fieldTable: [String: ConfigField] = Dictionary(uniqueKeysWithValues: fields.map { ($0.key, $0) })

    /// Key prefixes that are JSON objects.
    static let groups: Set<String> = ["attention", "prompt"]

    // MARK: - Decoding (any subset of keys; unknown keys rejected)

    public init(from decoder: any Decoder) throws {
        self.init()
        try decodeLevel(try decoder.container(keyedBy: ConfigKey.self), prefix: "")
    }

    private mutating func decodeLevel(_ c: KeyedDecodingContainer<ConfigKey>, prefix: String) throws {
        // Sorted so that the first unknown key reported is deterministic.
        for key in c.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) {
            let path = prefix + key.stringValue
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
    let parse: @Sendable (inout RunConfig, String) throws(ContinualError) -> Void
    let decode: @Sendable (inout RunConfig, KeyedDecodingContainer<ConfigKey>, ConfigKey) throws -> Void
    let describe: @Sendable (RunConfig) -> String

    init<T: ConfigValue>(_ key: String, _ path: WritableKeyPath<RunConfig, T> & Sendable) {
        self.key = key
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
extension RetentionKind: ConfigEnum {}
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
