import Foundation

/// One experiment: which cached features, which class order, and every training knob.
///
/// JSON is flat: the experiment keys below plus every `RunConfig` key at the top level, e.g.
/// `{"name": "cifar100-b0inc10", "features": "cache/cifar100", "classOrder": "published",
///   "method": "linear", "retention": "topk", "increment": 10}`. Any subset may be given; an
/// unknown key is an error naming it. `--set key=value` overrides any key the same way.
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
                throw .invalidConfig(key: "classOrder", reason: "expected published, seed:N or a comma-separated list of label ids, got '\(s)'")
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

    static let experimentKeys: Set<String> = ["name", "features", "classOrder", "model"]

    /// Applies `key=value`; experiment keys here, everything else to `run`.
    public mutating func set(_ assignment: String) throws(ContinualError) {
        guard let eq = assignment.firstIndex(of: "=") else { throw .invalidConfig(key: assignment, reason: "expected key=value") }
        let key = String(assignment[..<eq]), value = String(assignment[assignment.index(after: eq)...])
        switch key {
        case "name": name = value
        case "features": features = value
        case "classOrder": classOrder = try ClassOrder(parsing: value)
        case "model": model = value.isEmpty ? nil : value
        default: try run.set(key: key.hasPrefix("run.") ? String(key.dropFirst(4)) : key, value: value)
        }
    }

    /// Parses a config file's JSON.
    public static func decode(_ data: Data, source: String) throws -> ExperimentConfig {
        guard let obj = try? JSONSerialization.jsonObject(with: data), var dict = obj as? [String: Any] else {
            throw ContinualError.invalidConfig(key: source, reason: "not a JSON object")
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
        if let v = dict.removeValue(forKey: "classOrder") {
            if let s = v as? String {
                config.classOrder = try ClassOrder(parsing: s)
            } else if let list = v as? [Int] {
                config.classOrder = .explicit(list)
            } else {
                throw ContinualError.invalidConfig(key: "classOrder", reason: "expected \"published\", \"seed:N\" or a list of label ids")
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
        dict["classOrder"] = classOrder.json
        if let model { dict["model"] = model }
        return try JSONSerialization.data(withJSONObject: dict, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}
