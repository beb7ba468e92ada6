import Datasets
import Foundation
import TensorKit

/// The versioned state directory of a learner (`clipcl learn --state DIR`):
///
///     DIR/.lock                 one writer at a time (the feature cache's `CacheLock`)
///     DIR/current               the number N of the state in use, written atomically
///     DIR/state-N/              learner.json, method.safetensors, text.safetensors [, features.safetensors]
///     DIR/encoding-KEY/         the feature cache of a task's images while `learn` encodes them (resumable; removed
///                               once the state that learnt them is in place)
///
/// A state is written whole into a temporary folder, fsynced, and renamed to `state-N` before `current` moves to N, so
/// a killed `learn` leaves `current` at the previous state; a complete `state-N` that `current` never reached is left
/// alone and the next `learn` takes N + 1. `--rollback N` only moves `current`.
public struct LearnerDirectory: Sendable {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    static let currentName = "current"
    static let stateFile = "learner.json", methodFile = "method.safetensors", textFile = "text.safetensors",
               featuresFile = "features.safetensors"

    public func stateURL(_ n: Int) -> URL { url.appendingPathComponent("state-\(n)") }
    public func encodingURL(key: String) -> URL { url.appendingPathComponent("encoding-\(key)") }

    /// The state `current` names; nil before the first `learn`.
    public func currentNumber() throws -> Int? {
        let u = url.appendingPathComponent(Self.currentName)
        guard let data = FileManager.default.contents(atPath: u.path) else { return nil }
        guard let n = Int(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)), n >= 1 else {
            throw ContinualError.learner("\(u.path): not a state number")
        }
        return n
    }

    /// The numbers of the complete states present (`state-N` folders).
    public func stateNumbers() -> [Int] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        return names.compactMap { $0.hasPrefix("state-") ? Int($0.dropFirst(6)) : nil }.filter { $0 >= 1 }.sorted()
    }

    /// The number the next `learn` writes: past every state present, also those a rollback left behind.
    public var nextNumber: Int { (stateNumbers().max() ?? 0) + 1 }

    /// State `n` (default: the current one), checked to be complete and readable by this version.
    public func load(_ n: Int? = nil) throws -> LoadedLearner {
        guard FileManager.default.fileExists(atPath: url.path) else {
            throw ContinualError.learner("\(url.path): no such learner state (run `clipcl learn --state \(url.path) --model M --task FOLDER` first)")
        }
        guard let number = try n ?? currentNumber() else {
            throw ContinualError.learner("\(url.path): holds no learnt state yet (no `current` file)")
        }
        let dir = stateURL(number)
        guard FileManager.default.fileExists(atPath: dir.path) else {
            let have = stateNumbers()
            throw ContinualError.learner("\(url.path): no state \(number) (states: \(have.isEmpty ? "none" : have.map(String.init).joined(separator: ", ")))")
        }
        let stateURL = dir.appendingPathComponent(Self.stateFile)
        guard let data = FileManager.default.contents(atPath: stateURL.path) else {
            throw ContinualError.learner("\(stateURL.path): missing")
        }
        // Format and version first, so a newer state says so instead of failing on a field this version lacks.
        struct Header: Decodable { var format: String?; var version: Int? }
        guard let header = try? JSONDecoder().decode(Header.self, from: data), header.format == LearnerState.formatName,
              let version = header.version else {
            throw ContinualError.learner("\(stateURL.path): not a clipcl learner state")
        }
        guard version <= LearnerState.currentVersion else {
            throw ContinualError.learner("\(stateURL.path): written by a newer clipcl (learner format \(version); this one reads up to \(LearnerState.currentVersion)); upgrade clipcl")
        }
        let state: LearnerState
        do { state = try Self.decoder.decode(LearnerState.self, from: data) } catch {
            throw ContinualError.learner("\(stateURL.path): unreadable (\(error))")
        }
        guard state.number == number else { throw ContinualError.learner("\(stateURL.path): says it is state \(state.number)") }
        let text = try Self.readTensors(dir.appendingPathComponent(Self.textFile))
        guard let classifier = text["text"], classifier.shape == [state.classNames.count, state.model.embedDim] else {
            throw ContinualError.learner("\(dir.path)/\(Self.textFile): no text embeddings [\(state.classNames.count), \(state.model.embedDim)]")
        }
        let parameters = try Self.readTensors(dir.appendingPathComponent(Self.methodFile))
        var features: TaskData? = nil
        if state.keepsFeatures {
            let f = try Self.readTensors(dir.appendingPathComponent(Self.featuresFile))
            guard let x = f["features"], let y = f["labels"], x.rank == 2, y.count == x.shape[0] else {
                throw ContinualError.learner("\(dir.path)/\(Self.featuresFile): no features [n, D] with n labels")
            }
            features = TaskData(features: x, labels: y.storage.map { Int($0) })
        }
        return LoadedLearner(state: state, parameters: parameters, text: classifier, features: features)
    }

    /// Writes `learner` as state `learner.state.number` and makes it current. Call while holding `lock()`.
    public func commit(_ learner: LoadedLearner) throws {
        let fm = FileManager.default
        let n = learner.state.number
        let final = stateURL(n)
        guard !fm.fileExists(atPath: final.path) else { throw ContinualError.learner("\(final.path) already exists") }
        let temp = url.appendingPathComponent(".state-\(n).tmp-\(getpid())")
        try? fm.removeItem(at: temp)
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
        do {
            try FeatureCacheFiles.writeAtomically(try Self.encoder.encode(learner.state),
                                                  to: temp.appendingPathComponent(Self.stateFile))
            try Self.writeTensors(learner.parameters, to: temp.appendingPathComponent(Self.methodFile))
            try Self.writeTensors(["text": learner.text], to: temp.appendingPathComponent(Self.textFile))
            if let f = learner.features {
                try Self.writeTensors(["features": f.features, "labels": Tensor(f.labels.map(Float.init))],
                                      to: temp.appendingPathComponent(Self.featuresFile))
            }
            guard rename(temp.path, final.path) == 0 else {
                throw ContinualError.learner("\(final.path): cannot move the new state into place (\(String(cString: strerror(errno))))")
            }
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
        try setCurrent(n)
    }

    /// Points `current` at state `n` (which must load). Call while holding `lock()`.
    func setCurrent(_ n: Int) throws {
        try FeatureCacheFiles.writeAtomically(Data("\(n)\n".utf8), to: url.appendingPathComponent(Self.currentName))
    }

    /// `--rollback N`: state N becomes current; later states stay on disk (a later `learn` numbers past them).
    public func rollback(to n: Int) throws -> LoadedLearner {
        let lock = try self.lock()
        defer { lock.release() }
        let learner = try load(n)
        try setCurrent(n)
        return learner
    }

    /// Takes the directory's lock (created if needed) and removes what a killed writer left.
    public func lock() throws -> CacheLock {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        let lock = try CacheLock.acquire(url)
        for name in (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
        where name.hasPrefix(".state-") || FeatureCacheFiles.isTemporary(name) {
            try? FileManager.default.removeItem(at: url.appendingPathComponent(name))
        }
        return lock
    }

    static func readTensors(_ u: URL) throws -> [String: Tensor] {
        guard FileManager.default.fileExists(atPath: u.path) else { throw ContinualError.learner("\(u.path): missing") }
        let file = try SafeTensorsFile(contentsOf: u)
        var out: [String: Tensor] = [:]
        for name in file.names { out[name] = try file.tensor(name) }
        return out
    }

    static func writeTensors(_ tensors: [String: Tensor], to u: URL) throws {
        var w = SafeTensorsWriter()
        for name in tensors.keys.sorted() { try w.add(name, tensors[name]!) }
        try FeatureCacheFiles.writeAtomically(try w.data(), to: u)
    }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()
    static let decoder = JSONDecoder()
}

/// A learner state read from disk.
public struct LoadedLearner: Sendable {
    public var state: LearnerState
    /// The method's parameters after the last task.
    public var parameters: [String: Tensor]
    /// [K, D] L2-normalised class-text embeddings, row i for class i.
    public var text: Tensor
    /// Training features of every task, labels 0..<K (only with `--keep-features`).
    public var features: TaskData?
}
