import CKernels
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

    /// The reduced-precision GEMMs as the image tower runs them: each of `threads` threads multiplies its own
    /// m rows (inputs rounded or quantized once, outside the timing) by one packed weight, at the same time.
    /// The result counts all threads' work.
    public static func runPacked(m: Int, n: Int, k: Int, threads: Int, int8: Bool, minSeconds: Double) throws -> Result {
        var rng = RandomGenerator(seed: 1)
        let a = Tensor.uniform(shape: [m, k], low: -1, high: 1, using: &rng)
        let w = Tensor.uniform(shape: [n, k], low: -1, high: 1, using: &rng)
        let weight: PackedWeights = int8 ? .int8(try Int8Weights(w)) : .bf16(try BFloat16Weights(w))
        let previous = Parallelism.threads
        defer { try? Parallelism.setThreads(previous) }
        try Parallelism.setThreads(threads)
        let counts = try Parallelism.map(threads) { _ in
            let scratch = UnsafeMutableRawPointer.allocate(byteCount: PackedWeights.scratchBytes(rows: m, width: k), alignment: 64)
            let c = UnsafeMutablePointer<Float>.allocate(capacity: m * n)
            defer { scratch.deallocate(); c.deallocate() }
            // One rounding or quantization into the scratch; then only the GEMM is repeated.
            let multiply: () -> Void
            switch weight {
            case .bf16(let b):
                let rows = scratch.bindMemory(to: UInt16.self, capacity: m * BFloat16GEMM.rowStride(k))
                a.storage.withUnsafeBufferPointer { BFloat16GEMM.convertRows($0.baseAddress!, rows: m, width: k, lda: k, into: rows) }
                multiply = { b.multiply(rows, rows: m, bias: nil, accumulate: false, into: c, ldc: n) }
            case .int8(let q):
                let rows = Int8GEMM.QuantizedRows(scratch: scratch, rows: m, width: k)
                a.storage.withUnsafeBufferPointer { rows.quantize($0.baseAddress!, width: k, lda: k) }
                multiply = { q.multiply(quantized: rows.values, scales: rows.scales, zeros: rows.zeros, rows: m, bias: nil, accumulate: false, into: c, ldc: n) }
            }
            multiply()
            var iterations = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                multiply()
                iterations += 1
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minSeconds
            return (iterations, elapsed)
        }
        // Threads' rates add up: iterations per second summed, expressed over the longest thread's time.
        let seconds = counts.map(\.1).max() ?? 0
        let rate = counts.reduce(0.0) { $0 + Double($1.0) / $1.1 }
        return Result(m: m, n: n, k: k, threads: threads, seconds: seconds, iterations: Int((rate * seconds).rounded()))
    }

    /// Multiply-add operations per second (2 per multiply-add, as GFLOP/s counts) of `vpdpbusd` alone, on
    /// `threads` threads at once: the ceiling the int8 GEMM is measured against. nil without AVX-512 VNNI.
    public static func vnniPeakGOPS(threads: Int, minSeconds: Double) throws -> Double? {
        guard Int8GEMM.isAccelerated else { return nil }
        let previous = Parallelism.threads
        defer { try? Parallelism.setThreads(previous) }
        try Parallelism.setThreads(threads)
        let rates = try Parallelism.map(threads) { _ in
            let chunk: Int64 = 1_000_000
            _ = ck_vnni_peak_loop(chunk / 10)
            var iterations: Int64 = 0
            let start = DispatchTime.now().uptimeNanoseconds
            var elapsed = 0.0
            repeat {
                _ = ck_vnni_peak_loop(chunk)
                iterations += chunk
                elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            } while elapsed < minSeconds
            return Double(iterations) * 24 * 64 * 2 / elapsed / 1e9
        }
        return rates.reduce(0, +)
    }
}
