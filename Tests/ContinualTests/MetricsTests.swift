import Continual
import Datasets
import Testing

/// A hand-computed 3-task example. Test samples per task: n = [100, 50, 50].
///
///   correct after task 0: [90]          → a[0] = [90]            A_0 = 90/100  = 90
///   correct after task 1: [95, 40]      → a[1] = [95, 80]        A_1 = 135/150 = 90
///   correct after task 2: [60, 45, 30]  → a[2] = [60, 90, 60]    A_2 = 135/200 = 67.5
///   (mean of a[2] would be 70: A_t is sample-weighted, not the mean over tasks)
///
///   Avg  = (90 + 90 + 67.5) / 3 = 82.5
///   Last = A_2 = 67.5
///   Forgetting = (1/2)·[ (max(a00, a10) − a20) + (max(a11) − a21) ]
///              = (1/2)·[ (max(90, 95) − 60) + (80 − 90) ] = (1/2)·(35 − 10) = 12.5
///     (continuum ≤ 1.2.3's off-by-one would sum j < 1 with max over l < 1: (90 − 60)/2 = 15)
///   BWT (GEM) = (1/2)·[ (a20 − a00) + (a21 − a11) ] = (1/2)·[(60 − 90) + (90 − 80)] = −10
///     (all pairs i > j would give ((95 − 90) + (60 − 90) + (90 − 80)) / 3 = −5; continuum's loop skips j = i − 1,
///      leaving only (a20 − a00) / 3 = −10, see `continuumBWTAndTaskMeanAccuracy`)
///   old/new after task 1: old = 95/100 = 95, new = 40/50 = 80
///   old/new after task 2: old = (60 + 45)/150 = 70, new = 30/50 = 60
@Suite struct MetricsTests {
    let totals = [100, 50, 50]
    let correct = [[90], [95, 40], [60, 45, 30]]
    let matrix: [[Double]] = [[90], [95, 80], [60, 90, 60]]

    @Test func accuracyMatrixAndSampleWeightedA() {
        for (t, row) in correct.enumerated() {
            let totalsSoFar = Array(totals[0...t])
            let a = zip(row, totalsSoFar).map { Metrics.accuracy(correct: $0, total: $1) }
            #expect(a == matrix[t])
        }
        #expect(Metrics.sampleWeightedAccuracy(correct: [90], totals: [100]) == 90)
        #expect(Metrics.sampleWeightedAccuracy(correct: [95, 40], totals: [100, 50]) == 90)
        #expect(Metrics.sampleWeightedAccuracy(correct: [60, 45, 30], totals: totals) == 67.5)
    }

    @Test func avgForgettingBWT() {
        #expect(Metrics.averageIncrementalAccuracy([90, 90, 67.5]) == 82.5)
        #expect(Metrics.forgetting(matrix) == 12.5)
        #expect(Metrics.backwardTransfer(matrix) == -10)
        #expect(Metrics.forgetting([[90]]) == nil)
        #expect(Metrics.backwardTransfer([[90]]) == nil)
    }

    /// A 4-task matrix where the definitions differ (hand-computed):
    ///   a = [[80], [70, 90], [60, 85, 75], [50, 80, 70, 65]]
    ///   GEM (final row):   ((50 − 80) + (80 − 90) + (70 − 75)) / 3 = −15
    ///   continuum (j ≤ i − 2, divided by T(T−1)/2 = 6): ((60 − 80) + (50 − 80) + (80 − 90)) / 6 = −10
    ///   (all pairs i > j would be −80 / 6 = −13.33)
    ///   task-mean A_t: 80, 80, 73.33…, 66.25 → Avg 74.8958…, Last 66.25
    @Test func continuumBWTAndTaskMeanAccuracy() {
        let a: [[Double]] = [[80], [70, 90], [60, 85, 75], [50, 80, 70, 65]]
        #expect(Metrics.backwardTransfer(a) == -15)
        #expect(Metrics.backwardTransferContinuum(a) == -10)
        #expect(Metrics.backwardTransferContinuum(matrix) == -10)
        #expect(Metrics.backwardTransferContinuum([[90]]) == nil)
        #expect(Metrics.taskMeanAccuracy(a[3]) == 66.25)
        #expect(Metrics.taskMeanAccuracy(matrix[2]) == 70)   // vs the sample-weighted 67.5
        let avg = Metrics.averageIncrementalAccuracy(a.map(Metrics.taskMeanAccuracy))
        #expect(abs(avg - (80 + 80 + 220.0 / 3 + 66.25) / 4) < 1e-12)
    }

    @Test func oldNew() {
        let t0 = Metrics.oldNew(correct: [90], totals: [100], task: 0)
        #expect(t0.old == nil && t0.new == 90)
        let t1 = Metrics.oldNew(correct: [95, 40], totals: [100, 50], task: 1)
        #expect(t1.old == 95 && t1.new == 80)
        let t2 = Metrics.oldNew(correct: [60, 45, 30], totals: totals, task: 2)
        #expect(t2.old == 70 && t2.new == 60)
    }

    @Test func runResultSummary() throws {
        let scenario = try Scenario(classOrder: Array(0..<6), initial: 2, increment: 2)
        var result = RunResult(mode: .incremental, method: "test", config: RunConfig(), seed: 0, scenario: scenario,
                               rngState: [1, 2, 3, 4])
        for (t, row) in correct.enumerated() {
            result.append(TaskRecord(task: t, classes: scenario.tasks[t], correct: row, totals: Array(totals[0...t]),
                                     epochLosses: [], seconds: TaskTimings()))
        }
        #expect(result.accuracyMatrix == matrix)
        #expect(result.records.map(\.accuracy) == [90, 90, 67.5])
        #expect(result.avg == 82.5 && result.last == 67.5)
        #expect(result.forgetting == 12.5 && result.bwt == -10)
        #expect(result.records[2].old == 70 && result.records[2].new == 60 && result.records[0].old == nil)
    }
}
