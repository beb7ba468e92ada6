import Foundation

/// Measures the engine's matmul throughput (the `linear` path: C = A·Bᵀ with B a [N, K] weight).
public enum GEMMBenchmark {
    public struct Result: Codable, Sendable {
        public let m: Int, n: Int, k: Int, threads: Int
        public let seconds: Double
        public let iterations: Int
        public var gflops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(iterations) / seconds / 1e9 }

        enum CodingKeys: String, CodingKey { case m, n, k, threads, seconds, iterations, gflops }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(m, forKey: .m); try c.encode(n, forKey: .n); try c.encode(k, forKey: .k)
            try c.encode(threads, forKey: .threads); try c.encode(seconds, forKey: .seconds)
            try c.encode(iterations, forKey: .iterations)
            try c.encode((gflops * 10).rounded() / 10, forKey: .gflops)
        }
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            m = try c.decode(Int.self, forKey: .m); n = try c.decode(Int.self, forKey: .n); k = try c.decode(Int.self, forKey: .k)
            threads = try c.decode(Int.self, forKey: .threads); seconds = try c.decode(Double.self, forKey: .seconds)
            iterations = try c.decode(Int.self, forKey: .iterations)
        }
        init(m: Int, n: Int, k: Int, threads: Int, seconds: Double, iterations: Int) {
            self.m = m; self.n = n; self.k = k; self.threads = threads; self.seconds = seconds; self.iterations = iterations
        }
    }

    /// Runs one shape for at least `minSeconds` after a warm-up call, with `threads` BLAS threads.
    public static func run(m: Int, n: Int, k: Int, threads: Int, minSeconds: Double) throws -> Result {
        let previous = Parallelism.threads
        defer { try? Parallelism.setThreads(previous) }
        try Parallelism.setThreads(threads)
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.uniform(shape: [m, k], low: -1, high: 1, using: &rng)
        let w = Tensor.uniform(shape: [n, k], low: -1, high: 1, using: &rng)
        _ = try Tensor.linear(a, weight: w, bias: nil)
        var iterations = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = try Tensor.linear(a, weight: w, bias: nil)
            iterations += 1
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < minSeconds
        return Result(m: m, n: n, k: k, threads: threads, seconds: elapsed, iterations: iterations)
    }
}
