import Foundation

/// One experiment: which cached features, which class order, and every training knob.
///
/// JSON is flat: the experiment keys below plus every `RunConfig` key at the top level, e.g.
/// `{"name": "cifar100-b0inc10", "features": "cache/cifar100", "class-order": "published",
///   "method": "linear", "retention": "topk", "increment": 10}`. Any subset may be given; an
/// unknown key is an error naming it. `--set key=value`, `--grid key=…` and the flag `--key value` use the same
/// names; old camelCase spellings are accepted with a note.
public struct ExperimentConfig: Sendable, Equatable {
    public var name: String = "run"
    /// Feature cache directory (made by `clipcl extract` or `clipcl features import`).
    public var features: String = ""
    /// `published` (the order stored with the cache's benchmark), `seed:N` (a seeded permutation)
    /// or an explicit list of label ids.
    public var classOrder: ClassOrder = .published
    /// Checkpoint whose text tower prompt tuning trains through; default: the cache's model id.
    public var model: String?
    public var run = RunConfig()

    public init() {}

    public enum ClassOrder: Sendable, Equatable {
        case published
        case seeded(UInt64)
        case explicit([Int])

        init(parsing s: String) throws(ContinualError) {
            if s == "published" { self = .published; return }
            if s.hasPrefix("seed:"), let n = UInt64(s.dropFirst(5)) { self = .seeded(n); return }
            let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else {
                throw .invalidConfig(key: "class-order", reason: "expected published, seed:N or a comma-separated list of label ids, got '\(s)'")
            }
            self = .explicit(parts.map { $0! })
        }

        var json: Any {
            switch self {
            case .published: "published"
            case let .seeded(n): "seed:\(n)"
            case let .explicit(list): list
            }
        }
    }

    /// The experiment's own keys, with their help texts.
    public static let experimentKeys: [(key: String, help: String)] = [
        ("name", "Run name (default run directory runs/<name>)"),
        ("features", "Feature cache directory"),
        ("class-order", "published | seed:N | comma-separated label ids"),
        ("model", "Checkpoint for prompt tuning's text tower (default: the cache's model)"),
    ]

    /// Every key a config file, `--set`, `--grid` or a flag may name.
    public static var keys: [String] { experimentKeys.map(\.key) + RunConfig.keys }

    /// The key `key` names, with a note when it is an old spelling (nil: unknown).
    static func canonicalKey(_ key: String) -> (key: String, note: String?)? {
        let bare = key.hasPrefix("run.") ? String(key.dropFirst(4)) : key
        if experimentKeys.contains(where: { $0.key == bare }) { return (bare, nil) }
        let kebab = ConfigSpelling.kebab(bare)
        if experimentKeys.contains(where: { $0.key == kebab }) { return (kebab, ConfigSpelling.note(old: key, new: kebab)) }
        return RunConfig.canonicalKey(bare)
    }

    /// Applies `key=value`; experiment keys here, everything else to `run`. Returns a note for an old spelling.
    @discardableResult
    public mutating func set(_ assignment: String) throws(ContinualError) -> String? {
        guard let eq = assignment.firstIndex(of: "=") else { throw .invalidConfig(key: assignment, reason: "expected key=value") }
        let key = String(assignment[..<eq]), value = String(assignment[assignment.index(after: eq)...])
        guard let (canonical, note) = Self.canonicalKey(key) else {
            throw .invalidConfig(key: key, reason: "unknown key (known keys: \(Self.keys.joined(separator: ", ")))")
        }
        switch canonical {
        case "name": name = value
        case "features": features = value
        case "class-order": classOrder = try ClassOrder(parsing: value)
        case "model": model = value.isEmpty ? nil : value
        default: try run.set(key: canonical, value: value)
        }
        return note
    }

    /// Parses a config file's JSON (notes about old spellings are dropped).
    public static func decode(_ data: Data, source: String) throws -> ExperimentConfig {
        var notes: [String] = []
        return try decode(data, source: source, notes: &notes)
    }

    /// Parses a config file's JSON; `notes` gets a line for every key in an old spelling.
    public static func decode(_ data: Data, source: String, notes: inout [String]) throws -> ExperimentConfig {
        guard let obj = try? JSONSerialization.jsonObject(with: data), let raw = obj as? [String: Any] else {
            throw ContinualError.invalidConfig(key: source, reason: "not a JSON object")
        }
        // Old spellings → canonical keys, at the top level and inside the option groups.
        var dict: [String: Any] = [:]
        for (key, value) in raw {
            var canonical = Self.canonicalKey(key)?.key ?? key
            if let note = Self.canonicalKey(key)?.note { notes.append("\(source): " + note) }
            if RunConfig.groups.contains(ConfigSpelling.kebab(key)), let group = value as? [String: Any] {
                canonical = ConfigSpelling.kebab(key)
                var inner: [String: Any] = [:]
                for (k, v) in group {
                    let path = canonical + "." + k
                    let resolved = RunConfig.canonicalKey(path)
                    if let note = resolved?.note { notes.append("\(source): " + note) }
                    inner[String((resolved?.key ?? path).dropFirst(canonical.count + 1))] = v
                }
                dict[canonical] = inner
            } else {
                dict[canonical] = value
            }
        }
        var config = ExperimentConfig()
        if let v = dict.removeValue(forKey: "name") {
            guard let s = v as? String else { throw ContinualError.invalidConfig(key: "name", reason: "expected a string") }
            config.name = s
        }
        if let v = dict.removeValue(forKey: "features") {
            guard let s = v as? String else { throw ContinualError.invalidConfig(key: "features", reason: "expected a string") }
            config.features = s
        }
        if let v = dict.removeValue(forKey: "model") {
            guard let s = v as? String else { throw ContinualError.invalidConfig(key: "model", reason: "expected a string") }
            config.model = s
        }
        if let v = dict.removeValue(forKey: "class-order") {
            if let s = v as? String {
                config.classOrder = try ClassOrder(parsing: s)
            } else if let list = v as? [Int] {
                config.classOrder = .explicit(list)
            } else {
                throw ContinualError.invalidConfig(key: "class-order", reason: "expected \"published\", \"seed:N\" or a list of label ids")
            }
        }
        let rest = try JSONSerialization.data(withJSONObject: dict)
        do {
            config.run = try JSONDecoder().decode(RunConfig.self, from: rest)
        } catch let e as ContinualError {
            throw e
        } catch {
            throw ContinualError.invalidConfig(key: source, reason: "\(error)")
        }
        return config
    }

    /// Fully resolved JSON, keys sorted.
    public func encoded() throws -> Data {
        let runJSON = try JSONSerialization.jsonObject(with: JSONEncoder().encode(run.resolved())) as! [String: Any]
        var dict = runJSON
        dict["name"] = name
        dict["features"] = features
        dict["class-order"] = classOrder.json
        if let model { dict["model"] = model }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
