import TensorKit

/// Class-incremental evaluation: the test samples of the given tasks' classes, predicted by argmax
/// over all seen classes (no task id), counted per task.
struct Evaluator {
    /// Test rows per original label id.
    let testRows: [[Int]]
    let batchSize: Int

    /// Correct predictions and sample counts for each task in `tasks` (lists of original label ids),
    /// predicting among `context.seenClasses`.
    func evaluate(_ method: any ContinualMethod, features: Tensor, tasks: [[Int]], context: TaskContext)
        throws -> (correct: [Int], totals: [Int])
    {
        let seen = context.seenClasses
        var column: [Int: Int] = [:]
        for (j, c) in seen.enumerated() { column[c] = j }
        // (row, task, target column), tasks in order, classes in class order, rows ascending.
        var items: [(row: Int, task: Int, target: Int)] = []
        for (k, classes) in tasks.enumerated() {
            for c in classes {
                guard let j = column[c] else { throw ContinualError.invalidData("evaluated class \(c) is not a seen class") }
                for r in testRows[c] { items.append((r, k, j)) }
            }
        }
        var correct = [Int](repeating: 0, count: tasks.count)
        var totals = [Int](repeating: 0, count: tasks.count)
        for range in evaluationBatches(items.count, size: batchSize) {
            let batch = items[range]
            let x = try features.gather(rows: batch.map(\.row), indexShape: [batch.count])
            guard x.storage.allSatisfy(\.isFinite) else {
                throw ContinualError.invalidData("non-finite test features (rows \(batch.map(\.row).prefix(8))…) when evaluating after task \(context.task)")
            }
            let logits = try method.logits(features: x, seenClasses: seen, context: context)
            guard logits.shape == [batch.count, seen.count] else {
                throw ContinualError.invalidData("method returned logits \(logits.shape), expected [\(batch.count), \(seen.count)]")
            }
            guard logits.storage.allSatisfy(\.isFinite) else {
                throw ContinualError.invalidData("non-finite logits when evaluating after task \(context.task)")
            }
            for (item, prediction) in zip(batch, logits.argmax()) {
                totals[item.task] += 1
                if prediction == item.target { correct[item.task] += 1 }
            }
        }
        return (correct, totals)
    }
}
