import TensorKit

/// The training loop shared by every gradient-trained method (linear, attention, prompt, joint).
///
/// For one task: a NEW optimiser (RAPF re-creates Adam every task), `epochs` epochs; each epoch
/// shuffles the task's samples with the run's seeded generator (Fisher–Yates on 0..<n) and walks
/// them in batches of `batchSize` (the last batch may be smaller, like PyTorch's DataLoader with
/// drop_last = False). Per batch: logits over `lossClasses` from the method's `forward`, mean
/// cross-entropy (over the batch and any rows `BatchExtras` append), plus any extra loss term, backward, optimiser
/// step. The learning rate is `lr · factor`, with the factor
/// from `RunConfig.learningRateFactor` (multistep per epoch, cosine per step).
///
/// A non-finite input batch, logit or loss (checked before the step) or parameter (checked after
/// it) stops training with `ContinualError.nonFinite` naming the task, epoch and step (all
/// 0-based; the step counts within the epoch). Any other error inside a step is rethrown as
/// `trainingFailed` with the same position.
struct GradientTrainer {
    var config: RunConfig

    /// Logits [batch, lossClasses.count] for a batch of features, given the parameters as
    /// variables (in `names` order) that require gradients.
    typealias Forward = (_ parameters: [Variable], _ features: Tensor) throws -> Variable

    /// What a method adds to every batch (RAPF's replay and hinge): called with the run's generator, after the epoch's
    /// shuffle and then per step, so a resumed run draws the same samples.
    struct BatchExtras {
        var beginEpoch: (inout RandomGenerator) -> Void
        /// Extra rows for the cross-entropy: features (D per row) and their labels (original label ids).
        var rows: (_ step: Int, inout RandomGenerator) throws -> (features: [Float], labels: [Int])
        /// An extra loss term added to the step's cross-entropy.
        var loss: (_ parameters: [Variable], inout RandomGenerator) throws -> Variable?
    }

    /// Trains `parameters` (values for `names`, in that order) in place.
    func train(
        parameters: inout [Tensor], names: [String], data: TaskData, lossClasses: [Int], task: Int,
        rng: inout RandomGenerator, log: (TrainingEvent) -> Void, extras: BatchExtras? = nil, forward: Forward
    ) throws {
        let n = data.count
        guard n > 0 else { throw ContinualError.invalidData("task \(task) has no training samples") }
        var column: [Int: Int] = [:]
        for (j, c) in lossClasses.enumerated() { column[c] = j }
        var targets = [Int](repeating: 0, count: n)
        for (i, label) in data.labels.enumerated() {
            guard let j = column[label] else {
                throw ContinualError.invalidData("task \(task): training label \(label) is not among the loss classes \(lossClasses)")
            }
            targets[i] = j
        }

        var optimizer = makeOptimizer()
        let batchSize = config.batchSize
        let stepsPerEpoch = (n + batchSize - 1) / batchSize
        var order = Array(0..<n)
        for epoch in 0..<config.epochs {
            let started = ContinuousClock.now
            rng.shuffle(&order)
            extras?.beginEpoch(&rng)
            var lossSum: Double = 0
            for step in 0..<stepsPerEpoch {
                let lr = config.lr * config.learningRateFactor(epoch: epoch, stepInTask: epoch * stepsPerEpoch + step,
                                                               stepsPerEpoch: stepsPerEpoch)
                let rows = Array(order[(step * batchSize)..<min(n, (step + 1) * batchSize)])
                let loss: Float
                do {
                    var x = try data.features.gather(rows: rows, indexShape: [rows.count])
                    var labels = rows.map { targets[$0] }
                    if let extras {
                        let (more, moreLabels) = try extras.rows(step, &rng)
                        if !moreLabels.isEmpty {
                            for label in moreLabels where column[label] == nil {
                                throw ContinualError.invalidData("task \(task): replayed label \(label) is not among the loss classes")
                            }
                            x = Tensor(unchecked: [rows.count + moreLabels.count, x.shape[1]], storage: x.storage + more)
                            labels += moreLabels.map { column[$0]! }
                        }
                    }
                    // Checked before use: TensorKit's vectorised exp traps on NaN (softmax, attention,
                    // cross-entropy), so a NaN must be caught before it reaches those kernels.
                    guard x.storage.allSatisfy(\.isFinite) else {
                        throw ContinualError.nonFinite(what: "input features", task: task, epoch: epoch, step: step)
                    }
                    let variables = parameters.map { Variable($0, requiresGrad: true) }
                    let logits = try forward(variables, x)
                    guard logits.value.storage.allSatisfy(\.isFinite) else {
                        throw ContinualError.nonFinite(what: "logits", task: task, epoch: epoch, step: step)
                    }
                    var lossVariable = try logits.crossEntropy(labels: labels)
                    if let extra = try extras?.loss(variables, &rng) { lossVariable = try lossVariable + extra }
                    loss = lossVariable.value.storage[0]
                    guard loss.isFinite else {
                        throw ContinualError.nonFinite(what: "loss (\(loss))", task: task, epoch: epoch, step: step)
                    }
                    let gradients = try lossVariable.gradients()
                    try optimizer.step(parameters: &parameters, gradients: variables.map { gradients[$0] },
                                       learningRate: lr)
                } catch let error as ContinualError {
                    throw error
                } catch {
                    throw ContinualError.trainingFailed(task: task, epoch: epoch, step: step, reason: "\(error)")
                }
                for (name, p) in zip(names, parameters) where !p.storage.allSatisfy(\.isFinite) {
                    throw ContinualError.nonFinite(what: "parameter \"\(name)\"", task: task, epoch: epoch, step: step)
                }
                lossSum += Double(loss) * Double(rows.count)
                log(.step(task: task, epoch: epoch, step: step, loss: loss, learningRate: lr))
            }
            let elapsed = ContinuousClock.now - started
            log(.epochEnd(task: task, epoch: epoch, meanLoss: Float(lossSum / Double(n)), seconds: secondsIn(elapsed)))
        }
    }

    func makeOptimizer() -> any Optimizer {
        switch config.optimizer {
        case .adam: Adam(weightDecay: config.weightDecay)
        case .adamw: AdamW(weightDecay: config.weightDecay)
        case .sgd: SGD(momentum: config.momentum, weightDecay: config.weightDecay)
        }
    }
}

/// A duration in seconds as a Double.
func secondsIn(_ duration: Duration) -> Double {
    let c = duration.components
    return Double(c.seconds) + Double(c.attoseconds) * 1e-18
}
