/// Continual-learning metrics, exactly as method.md §10 (continuum ≥ 1.2.4, GEM/Mammoth BWT).
///
/// Notation: tasks t = 0..T−1; a[t][k] = accuracy (%) on the test samples of task k's classes
/// after training task t (k ≤ t); row t of `matrix` holds a[t][0...t]. All accuracies are
/// percentages in [0, 100]; forgetting and BWT are in percentage points.
public enum Metrics {
    /// 100 · correct / total (0 when total is 0).
    public static func accuracy(correct: Int, total: Int) -> Double {
        total == 0 ? 0 : 100 * Double(correct) / Double(total)
    }

    /// A_t: sample-weighted accuracy over the union of the tasks' test sets (#correct / #samples),
    /// not the mean of the per-task accuracies.
    public static func sampleWeightedAccuracy(correct: [Int], totals: [Int]) -> Double {
        accuracy(correct: correct.reduce(0, +), total: totals.reduce(0, +))
    }

    /// A_t as Mammoth reports it: the mean of the per-task accuracies a[t][0...t] (every task weighs the same,
    /// whatever its number of test samples; equal to the sample-weighted A_t when all tasks have as many).
    public static func taskMeanAccuracy(_ row: [Double]) -> Double {
        row.isEmpty ? 0 : row.reduce(0, +) / Double(row.count)
    }

    /// Avg (average incremental accuracy, iCaRL): (1/T) Σ_t A_t, task 0 included.
    public static func averageIncrementalAccuracy(_ a: [Double]) -> Double {
        a.isEmpty ? 0 : a.reduce(0, +) / Double(a.count)
    }

    /// Forgetting (Chaudhry et al. 2018, eq. 3; continuum ≥ 1.2.4):
    /// (1/(T−1)) Σ_{j=0}^{T−2} ( max_{l ∈ j…T−2} a[l][j] − a[T−1][j] ). nil when T < 2.
    public static func forgetting(_ matrix: [[Double]]) -> Double? {
        let t = matrix.count
        guard t >= 2 else { return nil }
        var sum = 0.0
        for j in 0...(t - 2) {
            let best = (j...(t - 2)).map { matrix[$0][j] }.max()!
            sum += best - matrix[t - 1][j]
        }
        return sum / Double(t - 1)
    }

    /// BWT (GEM, final row; Mammoth `backward_transfer`):
    /// (1/(T−1)) Σ_{j=0}^{T−2} ( a[T−1][j] − a[j][j] ). nil when T < 2.
    public static func backwardTransfer(_ matrix: [[Double]]) -> Double? {
        let t = matrix.count
        guard t >= 2 else { return nil }
        var sum = 0.0
        for j in 0...(t - 2) { sum += matrix[t - 1][j] - matrix[j][j] }
        return sum / Double(t - 1)
    }

    /// BWT as continuum computes it (`continuum/metrics/metrics.py` `backward_transfer`, Continvvm/continuum
    /// 265a985): Σ_{i=1}^{T−1} Σ_{j=0}^{i−2} (a[i][j] − a[j][j]) / (T(T−1)/2). Its inner loop is `range(0, i - 1)`,
    /// so the pairs j = i − 1 are left out while the divisor counts them; reproduced as written. nil when T < 2.
    public static func backwardTransferContinuum(_ matrix: [[Double]]) -> Double? {
        let t = matrix.count
        guard t >= 2 else { return nil }
        var sum = 0.0
        for i in 1..<t where i >= 2 {
            for j in 0..<(i - 1) { sum += matrix[i][j] - matrix[j][j] }
        }
        return sum / (Double(t * (t - 1)) / 2)
    }

    /// Old / new accuracy after task t from per-task counts: old = sample-weighted accuracy on the
    /// classes of tasks < t (nil for t = 0), new = accuracy on task t's classes.
    public static func oldNew(correct: [Int], totals: [Int], task t: Int) -> (old: Double?, new: Double) {
        let old: Double? = t == 0 ? nil
            : accuracy(correct: correct[0..<t].reduce(0, +), total: totals[0..<t].reduce(0, +))
        return (old, accuracy(correct: correct[t], total: totals[t]))
    }
}
