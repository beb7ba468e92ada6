import Foundation
import Testing
@testable import CLIP
@testable import Continual
@testable import TensorKit

/// The learner (`clipcl learn` / `predict` without the image encoder): five learn calls are the five tasks of a run,
/// states are versioned and survive a killed writer.
@Suite struct LearnerTests {
    static func features() throws -> FeatureSet {
        var spec = SyntheticSpec()
        spec.trainPerClass = 40
        spec.testPerClass = 10
        spec.dimension = 16
        return try spec.make()
    }

    static func config(_ method: MethodKind, seed: Int = 5) -> RunConfig {
        var c = syntheticConfig(method, retention: method == .linear ? .topk : .none)
        if method == .attention { c.retention = .softSVD; c.attention.tokens = 2; c.attention.heads = 2 }
        c.epochs = 3
        c.milestones = [2]
        c.batchSize = 32
        c.ranpac.dim = 48
        c.seeds = [seed]
        return c
    }

    static let model = LearnerModel(id: "synthetic", checkpointSHA256: "00", checkpointRevision: nil,
                                    preprocessing: PreprocessConfig.openAI(imageSize: 224), embedDim: 16, logitScale: 100, templates: ["{}"])

    /// Task t's training rows as the runner takes them (ascending rows of its classes), as a learner task.
    static func task(_ t: Int, classes: [Int], features f: FeatureSet) throws -> Learner.NewTask {
        let rows = f.trainLabels.indices.filter { classes.contains(f.trainLabels[$0]) }
        return Learner.NewTask(folder: "task-\(t)", classNames: classes.map { f.classNames[$0] },
                               features: try f.trainFeatures.gather(rows: rows, indexShape: [rows.count]),
                               labels: rows.map { classes.firstIndex(of: f.trainLabels[$0])! },
                               text: try f.textFeatures.gather(rows: classes, indexShape: [classes.count]))
    }

    /// Five learn calls, each state written to disk and read back before the next.
    static func learnAll(_ config: RunConfig, features f: FeatureSet, in dir: LearnerDirectory,
                         textEncoder: (any PromptTextEncoder)? = nil) throws -> LoadedLearner {
        var previous: LoadedLearner? = nil
        for t in 0..<5 {
            let next = try Learner.learn(try task(t, classes: [2 * t, 2 * t + 1], features: f), previous: previous, config: config,
                                         model: model, number: dir.nextNumber, holdout: 0, keepFeatures: false,
                                         textEncoder: textEncoder)
            try dir.commit(next)
            previous = try dir.load()
        }
        return try #require(previous)
    }

    static func temporaryDirectory() -> LearnerDirectory {
        LearnerDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-learner-\(UUID().uuidString)"))
    }

    @Test(arguments: [MethodKind.linear, .rapf, .attention, .prompt, .ncm, .simplecil, .fecam, .ranpac])
    func fiveLearnCallsGiveTheRunsNumbers(_ method: MethodKind) throws {
        let f = try Self.features()
        let config = Self.config(method)
        let encoder = method == .prompt ? FakeTextEncoder(embedDimension: 16) : nil
        let (run, runParameters) = try runToEnd(config, features: f, seed: 5, textEncoder: encoder)
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir.url) }
        let learnt = try Self.learnAll(config, features: f, in: dir, textEncoder: encoder)
        #expect(learnt.state.classNames == f.classNames)
        let same = learnt.parameters.mapValues { $0.storage.map(\.bitPattern) } == runParameters.mapValues { $0.storage.map(\.bitPattern) }
        #expect(same, "\(method): the learner's parameters differ from the run's")
        // Predicting the test set with the last state: the run's final accuracies, task by task.
        let classifier = try LearnerClassifier(learnt, textEncoder: encoder)
        let predicted = try classifier.probabilities(f.testFeatures).argmax()
        var correct = [Int](repeating: 0, count: 5), total = [Int](repeating: 0, count: 5)
        for (label, p) in zip(f.testLabels, predicted) {
            total[label / 2] += 1
            if p == label { correct[label / 2] += 1 }
        }
        let last = try #require(run.records.last)
        #expect(correct == last.correct && total == last.totals, "\(method): learner \(correct) vs run \(last.correct)")
    }

    @Test func statesAreVersionedAndRollBack() throws {
        let f = try Self.features()
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir.url) }
        _ = try Self.learnAll(Self.config(.ncm), features: f, in: dir)
        #expect(try dir.currentNumber() == 5)
        #expect(dir.stateNumbers() == [1, 2, 3, 4, 5])
        let second = try dir.load(2)
        #expect(second.state.classNames == Array(f.classNames.prefix(4)) && second.state.parent == 1)
        let before = try LearnerClassifier(second).logits(f.testFeatures)
        _ = try dir.rollback(to: 2)
        #expect(try dir.currentNumber() == 2)
        #expect(try LearnerClassifier(try dir.load()).logits(f.testFeatures).storage.map(\.bitPattern) == before.storage.map(\.bitPattern))
        // A learn after the rollback continues from 2 and is numbered past every state on disk.
        let next = try Learner.learn(try Self.task(2, classes: [4, 5], features: f), previous: try dir.load(), config: Self.config(.ncm),
                                     model: Self.model, number: dir.nextNumber, holdout: 0, keepFeatures: false)
        try dir.commit(next)
        #expect(try dir.currentNumber() == 6 && (try dir.load()).state.parent == 2)
        #expect(throws: ContinualError.self) { try dir.rollback(to: 9) }
    }

    @Test func aKilledWriterLeavesThePreviousState() throws {
        let f = try Self.features()
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir.url) }
        _ = try Self.learnAll(Self.config(.ncm), features: f, in: dir)
        // As a kill leaves things: a half-written temporary state, and a complete state-6 `current` never reached.
        let temp = dir.url.appendingPathComponent(".state-6.tmp-4242")
        try FileManager.default.createDirectory(at: temp, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dir.stateURL(5), to: dir.stateURL(6))
        #expect(try dir.load().state.number == 5)
        let lock = try dir.lock()
        lock.release()
        #expect(!FileManager.default.fileExists(atPath: temp.path))
        #expect(dir.nextNumber == 7)
    }

    @Test func refusalsSayWhatIsWrong() throws {
        let f = try Self.features()
        let dir = Self.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir.url) }
        func message(_ body: () throws -> Void) -> String {
            do { try body(); return "" } catch { return "\(error)" }
        }
        let first = try Self.task(0, classes: [0, 1], features: f)
        var one = try Self.task(0, classes: [0], features: f)
        one.folder = "one"
        #expect(message { _ = try Learner.learn(one, previous: nil, config: Self.config(.ncm), model: Self.model, number: 1,
                                                holdout: 0, keepFeatures: false) }
                .contains("one: has one class ('class0'); the first task needs at least two"))
        let state = try Learner.learn(first, previous: nil, config: Self.config(.linear), model: Self.model, number: 1, holdout: 0.1,
                                      keepFeatures: false)
        #expect(state.state.tasks[0].heldOutImages == 8 && state.state.tasks[0].trainImages == 72)
        #expect(message { _ = try Learner.learn(first, previous: state, config: Self.config(.linear), model: Self.model, number: 2,
                                                holdout: 0, keepFeatures: false) }
                .contains("class 'class0' is already learnt"))
        var single = try Self.task(1, classes: [2], features: f)
        single.folder = "single"
        #expect(message { _ = try Learner.learn(single, previous: state, config: Self.config(.linear), model: Self.model, number: 2,
                                                holdout: 0, keepFeatures: false) }
                .contains("linear without replay trains a softmax over the task's own classes"))
        // A state written by a newer clipcl.
        try dir.commit(state)
        let json = dir.stateURL(1).appendingPathComponent("learner.json")
        let text = try String(contentsOf: json, encoding: .utf8).replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 2")
        try text.write(to: json, atomically: true, encoding: .utf8)
        #expect(message { _ = try dir.load() }.contains("written by a newer clipcl (learner format 2; this one reads up to 1)"))
    }
}
