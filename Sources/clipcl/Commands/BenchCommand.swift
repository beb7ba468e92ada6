import Foundation
import TensorKit

/// `clipcl bench gemm`: matmul throughput on ViT shapes, 1 and 2 threads.
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "Measure the engine's speed (not a test: numbers depend on the machine and its load)."
    static let usage = "clipcl bench gemm [--json] [--seconds S] [--m M]"
    static let options: [OptionSpec] = [
        .flag("json", "Print results as JSON on stdout"),
        .option("seconds", "S", "Minimum time per measurement (default 0.5)"),
        .option("m", "M", "Rows of the activation matrix (default 1576 = 197 tokens × 8 images)"),
        .repeated("thread-counts", "N", "Thread counts to measure (default 1 and 2)"),
    ]

    struct GEMMReport: Encodable {
        let benchmark = "gemm"
        let blasCore: String
        let loadAverage: [Double]
        let results: [GEMMBenchmark.Result]
        let best2ThreadGFLOPS: Double?
        enum CodingKeys: String, CodingKey {
            case benchmark, blasCore = "blas_core", loadAverage = "load_average", results
            case best2ThreadGFLOPS = "max_gflops_2_threads"
        }
    }

    static func run(_ args: ParsedArguments) throws {
        guard let what = args.positionals.first else {
            throw UsageError(message: "bench needs a workload: gemm", command: name)
        }
        switch what {
        case "gemm": try gemm(args)
        default: throw UsageError(message: "unknown benchmark '\(what)' (available: gemm)", command: name)
        }
    }

    static func gemm(_ args: ParsedArguments) throws {
        let seconds = try args.double("seconds") ?? 0.5
        guard seconds > 0 && seconds <= 60 else { throw UsageError(message: "--seconds must be in (0, 60]", command: name) }
        let m = try args.int("m", range: 1...100_000) ?? 197 * 8
        var threadCounts: [Int] = []
        for raw in args.strings("thread-counts") {
            guard let t = Int(raw), (1...256).contains(t) else {
                throw UsageError(message: "--thread-counts expects integers in 1...256, got '\(raw)'", command: name)
            }
            threadCounts.append(t)
        }
        if threadCounts.isEmpty { threadCounts = [1, 2] }
        let sizes = [768, 2304, 3072]
        var results: [GEMMBenchmark.Result] = []
        for t in threadCounts {
            for n in sizes {
                for k in sizes {
                    let r = try GEMMBenchmark.run(m: m, n: n, k: k, threads: t, minSeconds: seconds)
                    results.append(r)
                    if !args.flag("json") {
                        print(String(format: "M=%5d N=%5d K=%5d threads=%d  %7.1f GFLOP/s", m, n, k, t, r.gflops))
                    }
                }
            }
        }
        let best2 = results.filter { $0.threads == 2 }.map(\.gflops).max()
        if args.flag("json") {
            try printJSON(GEMMReport(blasCore: Parallelism.blasCoreName, loadAverage: loadAverage(),
                                     results: results, best2ThreadGFLOPS: best2.map { ($0 * 10).rounded() / 10 }))
        } else {
            print("BLAS core: \(Parallelism.blasCoreName); load average: \(loadAverage())")
        }
    }
}

/// The 1, 5 and 15-minute load averages, recorded with every benchmark (the machine is shared).
func loadAverage() -> [Double] {
    guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
    return s.split(separator: " ").prefix(3).compactMap { Double($0) }
}
