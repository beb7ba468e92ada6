import TensorKit

/// A class-incremental scenario: a class order split into tasks, written B{m} Inc{n}.
///
/// Task 0 holds the first `initial` classes of `classOrder`, every later task the next `increment`
/// (method.md §1). "B0 Inc n" means task 0 holds n classes as well, so `initial` is stored
/// normalised: `Scenario(classOrder:initial: 0, increment: 10)` has `initial == 10`, and B0 Inc10 and
/// B10 Inc10 are the same scenario.
///
/// Labels are remapped continuum-style: the i-th class of the order gets label i (`remap`), so a
/// classifier's column i is the i-th name of the cumulative class list built task by task.
///
/// The split must cover the order exactly: `(N − initial) % increment == 0`, otherwise the
/// initialiser throws (no shorter last task, so "Inc n" always means n classes per later task).
public struct Scenario: Codable, Sendable, Equatable {
    /// Original label ids in incremental order; a permutation of 0..<N.
    public let classOrder: [Int]
    /// Number of classes in task 0 (already normalised: never 0).
    public let initial: Int
    /// Number of classes in every later task.
    public let increment: Int
    /// Original label ids of each task, in class order.
    public let tasks: [[Int]]

    /// position[label] = index of `label` in `classOrder`.
    private let position: [Int]

    public init(classOrder: [Int], initial: Int, increment: Int) throws(ScenarioError) {
        let n = classOrder.count
        guard n > 0 else { throw .invalidSplit("the class order is empty") }
        guard increment >= 1 else { throw .invalidSplit("increment must be ≥ 1, got \(increment)") }
        guard initial >= 0 else { throw .invalidSplit("initial must be ≥ 0, got \(initial)") }
        let first = initial == 0 ? increment : initial
        guard first <= n else {
            throw .invalidSplit("task 0 needs \(first) classes but the order has only \(n)")
        }
        guard (n - first) % increment == 0 else {
            throw .invalidSplit("\(n) classes cannot be split into \(first) + k × \(increment): \(n - first) remaining classes are not a multiple of \(increment)")
        }
        var position = [Int](repeating: -1, count: n)
        for (i, label) in classOrder.enumerated() {
            guard label >= 0 && label < n else {
                throw .notAPermutation("label \(label) at position \(i) is outside 0..<\(n)")
            }
            guard position[label] < 0 else {
                throw .notAPermutation("label \(label) appears twice (positions \(position[label]) and \(i))")
            }
            position[label] = i
        }
        var tasks = [Array(classOrder[0..<first])]
        var start = first
        while start < n {
            tasks.append(Array(classOrder[start..<(start + increment)]))
            start += increment
        }
        self.classOrder = classOrder
        self.initial = first
        self.increment = increment
        self.tasks = tasks
        self.position = position
    }

    /// Builds the scenario named like `B10Inc10`, `B0Inc2` or `10-10` (see `parseSplit`).
    public init(classOrder: [Int], split: String) throws(ScenarioError) {
        let (initial, increment) = try Scenario.parseSplit(split)
        try self.init(classOrder: classOrder, initial: initial, increment: increment)
    }

    public var classCount: Int { classOrder.count }
    public var taskCount: Int { tasks.count }

    /// Original label ids of tasks 0...t, in class order (the classes seen after task t).
    public func seenClasses(upTo t: Int) -> [Int] {
        Array(classOrder[0..<(initial + t * increment)])
    }

    /// Label → position in the class order (continuum's remapping). A label outside 0..<N is a
    /// programming error and stops the program; use `position(of:)` for a checked lookup.
    public func remap(_ label: Int) -> Int {
        guard let p = position(of: label) else {
            preconditionFailure("Scenario.remap: label \(label) is not in the class order of \(classCount) classes")
        }
        return p
    }

    /// Position of `label` in the class order, or nil when it is not a class of this scenario.
    public func position(of label: Int) -> Int? {
        label >= 0 && label < position.count ? position[label] : nil
    }

    /// The task that introduces `label`, or nil.
    public func task(of label: Int) -> Int? {
        guard let p = position(of: label) else { return nil }
        return p < initial ? 0 : 1 + (p - initial) / increment
    }

    /// A random class order: `RandomGenerator(seed:).permutation(classCount)`.
    ///
    /// This is clipcl's own generator, not NumPy's: it does not reproduce the
    /// `np.random.seed(1993); np.random.permutation(N)` orders of the reference code. Published
    /// orders come from the class-order files; use this only for extra, self-made orders.
    public static func seededOrder(classCount: Int, seed: UInt64) -> [Int] {
        var generator = RandomGenerator(seed: seed)
        return generator.permutation(classCount)
    }

    /// Parses a split name into (initial, increment): `B10Inc10` → (10, 10), `B0Inc2` → (0, 2)
    /// (B0: task 0 holds `increment` classes), case-insensitive; also the Continual-CLIP/RAPF
    /// spelling `10-10` (initial-increment).
    public static func parseSplit(_ name: String) throws(ScenarioError) -> (initial: Int, increment: Int) {
        let s = name.lowercased()
        if s.hasPrefix("b"), let inc = s.range(of: "inc") {
            let m = s[s.index(after: s.startIndex)..<inc.lowerBound]
            let n = s[inc.upperBound...]
            if let initial = Int(m), let increment = Int(n), initial >= 0, increment >= 1 {
                return (initial, increment)
            }
        } else {
            let parts = s.split(separator: "-", omittingEmptySubsequences: false)
            if parts.count == 2, let initial = Int(parts[0]), let increment = Int(parts[1]), initial >= 0, increment >= 1 {
                return (initial, increment)
            }
        }
        throw .invalidSplitName(name)
    }

    /// The canonical name `B{initial}Inc{increment}` (B0 when task 0 is one increment).
    public var name: String {
        "B\(initial == increment ? 0 : initial)Inc\(increment)"
    }

    // MARK: - Codable (the position table is derived; decoding re-validates)

    private enum CodingKeys: String, CodingKey { case classOrder, initial, increment, tasks }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let order = try c.decode([Int].self, forKey: .classOrder)
        let initial = try c.decode(Int.self, forKey: .initial)
        let increment = try c.decode(Int.self, forKey: .increment)
        try self.init(classOrder: order, initial: initial, increment: increment)
        if let stored = try c.decodeIfPresent([[Int]].self, forKey: .tasks), stored != tasks {
            throw ScenarioError.invalidSplit("stored tasks do not match the class order and split")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(classOrder, forKey: .classOrder)
        try c.encode(initial, forKey: .initial)
        try c.encode(increment, forKey: .increment)
        try c.encode(tasks, forKey: .tasks)
    }
}

public enum ScenarioError: Error, CustomStringConvertible, Equatable, Sendable {
    case invalidSplit(String)
    case notAPermutation(String)
    case invalidSplitName(String)

    public var description: String {
        switch self {
        case let .invalidSplit(reason): "scenario: \(reason)"
        case let .notAPermutation(reason): "scenario: the class order is not a permutation of 0..<N: \(reason)"
        case let .invalidSplitName(name): "scenario: cannot parse split name \"\(name)\" (expected B<m>Inc<n>, e.g. B0Inc10, or <m>-<n>)"
        }
    }
}
