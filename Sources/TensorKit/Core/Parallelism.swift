import CBLAS
import CKernels
import Foundation

/// The one layer of parallelism in clipcl: OpenBLAS's own threads.
///
/// All element-wise kernels run on the calling thread; GEMMs use `threads` BLAS threads.
/// Nothing else in the engine spawns threads, so the two never nest and oversubscribe the cores.
/// The count comes from `--threads`, else `CLIPCL_THREADS`, else the number of active cores.
public enum Parallelism {
    /// Name of the environment variable read by `configureFromEnvironment()`.
    public static let environmentVariable = "CLIPCL_THREADS"

    /// Current number of BLAS threads.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the BLAS thread count (1...256).
    public static func setThreads(_ n: Int) throws(TensorError) {
        guard n >= 1 && n <= 256 else {
            throw .invalidArgument(op: "threads", reason: "thread count must be in 1...256, got \(n)")
        }
        openblas_set_num_threads(Int32(n))
    }

    /// Applies `CLIPCL_THREADS` if set, otherwise uses all active processors.
    public static func configureFromEnvironment() throws(TensorError) {
        if let raw = ProcessInfo.processInfo.environment[environmentVariable] {
            guard let n = Int(raw) else {
                throw .invalidArgument(op: "threads", reason: "\(environmentVariable)=\(raw) is not an integer")
            }
            try setThreads(n)
        } else {
            try setThreads(max(1, ProcessInfo.processInfo.activeProcessorCount))
        }
    }

    /// The OpenBLAS kernel family selected for this CPU (e.g. "Cooperlake").
    public static var blasCoreName: String {
        guard let p = openblas_get_corename() else { return "unknown" }
        return String(cString: p)
    }

    /// The kernel family to ask OpenBLAS for (`OPENBLAS_CORETYPE`) when it picked a pre-AVX2 one on a CPU that
    /// has AVX2 or AVX-512, else nil. An OpenBLAS older than the CPU (Debian 12's 0.3.21 on Intel Xeon model
    /// 207, seen on a build machine) does not recognise it and falls back to "Prescott" kernels: fp32 GEMMs
    /// then ran at 42–63 GFLOP/s on 2 cores instead of 277–283 with Cooperlake's.
    public static var blasCoreOverride: String? {
        blasCoreOverride(current: blasCoreName, supported: ck_blas_core_for_cpu().map { String(cString: $0) })
    }

    static func blasCoreOverride(current: String, supported: String?) -> String? {
        let preAVX2: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "sandybridge",
                                    "barcelona", "opteron", "opteron_sse3", "bobcat", "bulldozer", "piledriver",
                                    "steamroller", "excavator", "katmai", "coppermine", "northwood", "banias", "unknown"]
        guard let supported, preAVX2.contains(current.lowercased()) else { return nil }
        return supported
    }
}

extension Parallelism {
    /// Runs `body(i)` for i in 0..<count on up to `threads` cores with BLAS single-threaded inside,
    /// so the two layers of parallelism never nest. Results come back in index order; the first
    /// error (by index) is rethrown.
    public static func map<T: Sendable>(_ count: Int, _ body: @Sendable (Int) throws -> T) throws -> [T] {
        let workers = min(threads, count)
        guard workers > 1 else { return try (0..<count).map(body) }
        let previous = threads
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(previous)) }
        let slots = ResultSlots<T>(count)
        DispatchQueue.concurrentPerform(iterations: count) { i in
            slots.set(i, Result { try body(i) })
        }
        return try slots.values()
    }
}

/// Per-index result storage written by concurrent workers (each index exactly once).
private final class ResultSlots<T>: @unchecked Sendable {
    private var slots: [Result<T, any Error>?]
    private let lock = NSLock()
    init(_ n: Int) { slots = Array(repeating: nil, count: n) }
    func set(_ i: Int, _ r: Result<T, any Error>) { lock.lock(); slots[i] = r; lock.unlock() }
    func values() throws -> [T] { try slots.map { try $0!.get() } }
}
