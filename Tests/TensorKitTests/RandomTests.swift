import Foundation
import Testing
import TestSupport
@testable import TensorKit

@Suite struct RandomGeneratorTests {
    /// Reference streams from a direct Python transcription of the published C code (tools/make_reference_vectors.py →
    /// Tests/Fixtures/reference/random.json; it checks its xoshiro and SplitMix64 vectors against those published with
    /// rand_xoshiro and Rosetta Code).
    struct Reference: Decodable {
        struct Seeded: Decodable { let state: [UInt64]; let outputs: [UInt64] }
        let xoshiro256ss_state_1_2_3_4: [UInt64]
        let splitmix64_1234567: [UInt64]
        let seed_42: Seeded
    }

    static let reference: Reference = {
        let url = TestSupport.fixtures.appendingPathComponent("reference/random.json")
        return try! JSONDecoder().decode(Reference.self, from: Data(contentsOf: url))
    }()

    @Test func xoshiroReferenceVector() throws {
        var g = try RandomGenerator(state: [1, 2, 3, 4])
        #expect((0..<10).map { _ in g.next() } == Self.reference.xoshiro256ss_state_1_2_3_4)
    }

    @Test func splitMixReferenceVector() {
        var s = SplitMix64(state: 1_234_567)
        #expect((0..<5).map { _ in s.next() } == Self.reference.splitmix64_1234567)
    }

    /// Seeding = SplitMix64(seed) fills the state.
    @Test func seededStream() {
        var g = RandomGenerator(seed: 42)
        #expect(g.state == Self.reference.seed_42.state)
        #expect((0..<5).map { _ in g.next() } == Self.reference.seed_42.outputs)
    }

    @Test func sameSeedSameStream() {
        var a = RandomGenerator(seed: 2024), b = RandomGenerator(seed: 2024), c = RandomGenerator(seed: 2025)
        let sa = (0..<1000).map { _ in a.next() }
        #expect(sa == (0..<1000).map { _ in b.next() })
        #expect(sa != (0..<1000).map { _ in c.next() })
    }

    @Test func stateRoundTripResumesTheStream() throws {
        var g = RandomGenerator(seed: 5)
        for _ in 0..<17 { _ = g.normal() }
        var resumed = try RandomGenerator(state: g.state)
        #expect((0..<100).map { _ in g.next() } == (0..<100).map { _ in resumed.next() })
        #expect(throws: TensorError.self) { try RandomGenerator(state: [0, 0, 0, 0]) }
        #expect(throws: TensorError.self) { try RandomGenerator(state: [1, 2, 3]) }
    }

    @Test func uniformRangesAndBits() throws {
        // From a known state the value is exactly the top 24 (53) bits of the next output.
        var g = try RandomGenerator(state: [1, 2, 3, 4])
        var raw = try RandomGenerator(state: [1, 2, 3, 4])
        for _ in 0..<100 {
            #expect(g.uniform() == Float(raw.next() >> 40) / 16_777_216)
            #expect(g.uniformDouble() == Double(raw.next() >> 11) / 9_007_199_254_740_992)
        }
        var h = RandomGenerator(seed: 8)
        var sum = 0.0
        for _ in 0..<100_000 {
            let u = h.uniform()
            #expect(u >= 0 && u < 1)
            sum += Double(u)
        }
        #expect(abs(sum / 100_000 - 0.5) < 0.005)
    }

    @Test func normalStatistics() {
        var g = RandomGenerator(seed: 1)
        let n = 100_000
        let xs = (0..<n).map { _ in Double(g.normal(mean: 2, std: 3)) }
        let mean = xs.reduce(0, +) / Double(n)
        let variance = xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(n - 1)
        // Standard errors: mean 3/√n ≈ 0.0095, std ≈ 3/√(2n) ≈ 0.0067; allow ~5σ.
        #expect(abs(mean - 2) < 0.05)
        #expect(abs(variance.squareRoot() - 3) < 0.035)
        // About 68.3 % within one std.
        let inside = Double(xs.filter { abs($0 - 2) < 3 }.count) / Double(n)
        #expect(abs(inside - 0.6827) < 0.01)
        // Two outputs per sample, so the stream position is predictable.
        var a = RandomGenerator(seed: 9), b = RandomGenerator(seed: 9)
        _ = a.normal()
        _ = b.next(); _ = b.next()
        #expect(a == b)
    }

    @Test func intBelowIsInRangeAndUniform() {
        var g = RandomGenerator(seed: 77)
        var counts = [Int](repeating: 0, count: 7)
        for _ in 0..<70_000 { counts[g.int(below: 7)] += 1 }
        #expect(counts.allSatisfy { abs($0 - 10_000) < 500 })
        #expect((0..<100).allSatisfy { _ in g.int(below: 1) == 0 })
        // The largest bound exercises the full-width multiply; results must stay in range.
        let big = Int.max
        #expect((0..<1000).allSatisfy { _ in (0..<big).contains(g.int(below: big)) })
    }

    @Test func shuffleIsADeterministicPermutation() {
        var a = RandomGenerator(seed: 123), b = RandomGenerator(seed: 123)
        var x = Array(0..<100), y = Array(0..<100)
        a.shuffle(&x)
        b.shuffle(&y)
        #expect(x == y)
        #expect(x.sorted() == Array(0..<100))
        #expect(x != Array(0..<100))
        let p = a.permutation(50)
        #expect(p.sorted() == Array(0..<50))
        #expect(a.permutation(0).isEmpty && a.permutation(1) == [0])
        // Each of the 6 orders of 3 items shows up about equally often.
        var g = RandomGenerator(seed: 4)
        var seen: [[Int]: Int] = [:]
        for _ in 0..<60_000 { seen[g.permutation(3), default: 0] += 1 }
        #expect(seen.count == 6 && seen.values.allSatisfy { abs($0 - 10_000) < 500 })
    }

    @Test func splitAndForkAreDeterministicAndDistinct() {
        var a = RandomGenerator(seed: 10), b = RandomGenerator(seed: 10)
        var ca = a.split(), cb = b.split()
        #expect(ca == cb)
        #expect(a == b)
        #expect(ca.next() != a.next())

        let parent = RandomGenerator(seed: 11)
        var f1 = parent.fork(stream: 1), f1again = parent.fork(stream: 1), f2 = parent.fork(stream: 2)
        let s1 = (0..<8).map { _ in f1.next() }
        #expect(s1 == (0..<8).map { _ in f1again.next() })
        #expect(s1 != (0..<8).map { _ in f2.next() })
        #expect(parent == RandomGenerator(seed: 11)) // fork does not advance the parent
        var p = parent
        #expect(s1 != (0..<8).map { _ in p.next() })
    }

    @Test func worksAsStandardLibraryGenerator() {
        var g = RandomGenerator(seed: 6)
        let x = Int.random(in: 0..<10, using: &g)
        #expect((0..<10).contains(x))
    }
}

@Suite struct InitializerTests {
    @Test func uniformBoundsAndDeterminism() throws {
        var g = RandomGenerator(seed: 1)
        let t = Tensor.uniform(shape: [100, 100], low: -0.5, high: 2, using: &g)
        #expect(t.shape == [100, 100])
        #expect(t.storage.allSatisfy { $0 >= -0.5 && $0 < 2 })
        var g2 = RandomGenerator(seed: 1)
        #expect(Tensor.uniform(shape: [100, 100], low: -0.5, high: 2, using: &g2) == t)
        #expect(Tensor.uniform(shape: [3], low: 4, high: 4, using: &g).storage == [4, 4, 4])
    }

    @Test func normalMoments() throws {
        var g = RandomGenerator(seed: 2)
        let t = Tensor.normal(shape: [200, 500], mean: -1, std: 0.5, using: &g)
        let n = Double(t.count)
        let mean = t.storage.reduce(0) { $0 + Double($1) } / n
        let variance = t.storage.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
        #expect(abs(mean + 1) < 0.01)
        #expect(abs(variance.squareRoot() - 0.5) < 0.01)
    }

    @Test func linearDefaultsMatchPyTorchRanges() throws {
        var g = RandomGenerator(seed: 3)
        let fanIn = 256
        let w = Tensor.linearWeightDefault(outFeatures: 400, inFeatures: fanIn, using: &g)
        let b = Tensor.linearBiasDefault(outFeatures: 400, inFeatures: fanIn, using: &g)
        #expect(w.shape == [400, 256])
        #expect(b.shape == [400])
        let bound: Float = 1 / 16 // 1/√256
        #expect(w.storage.allSatisfy { abs($0) <= bound })
        #expect(b.storage.allSatisfy { abs($0) <= bound })
        // U(−a, a) has variance a²/3 = 1/(3·fan_in).
        let n = Double(w.count)
        let mean = w.storage.reduce(0) { $0 + Double($1) } / n
        let variance = w.storage.reduce(0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / (n - 1)
        let expected = 1 / (3 * Double(fanIn))
        #expect(abs(variance / expected - 1) < 0.02)
        #expect(abs(mean) < 0.001)
        #expect(w.storage.max()! > 0.95 * bound && w.storage.min()! < -0.95 * bound)
    }

    @Test func identity() throws {
        let i = Tensor.identity(3)
        #expect(i == Tensor(unchecked: [3, 3], storage: [1, 0, 0, 0, 1, 0, 0, 0, 1]))
        #expect(Tensor.identity(0).shape == [0, 0])
    }
}
