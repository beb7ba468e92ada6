import CLIP
import Continual
import Datasets
import Foundation
import TensorKit

/// `clipcl bench gemm`: matmul throughput on ViT shapes, 1 and 2 threads (fp32 BLAS, or the bf16 / int8 kernels);
/// `clipcl bench encoders`: the towers on random weights of a real architecture.
enum BenchCommand: Command {
    static let name = "bench"
    static let summary = "Measure the engine's speed (not a test: numbers depend on the machine and its load)."
    static let usage = "clipcl bench gemm|encoders [--json] [--seconds S] [--m M] [--arch ViT-B-16] [--batch B] [--dtype f32|bf16|int8]"
    static let options: [OptionSpec] = [
        .flag("json", "Print results as JSON on stdout"),
        .option("seconds", "S", "Minimum time per measurement (default 0.5)"),
        .option("m", "M", "Rows of the activation matrix (default 1576 = 197 tokens × 8 images)"),
        .repeated("thread-counts", "N", "Thread counts to measure (default 1 and 2)"),
        .option("arch", "NAME", "encoders: ViT-B-16 (default), ViT-B-32 or ViT-L-14, random weights of the real shape"),
        .option("batch", "B", "encoders: images per forward pass (default 8)"),
        .option("dtype", "f32|bf16|int8", "gemm: the GEMM to measure (default f32, through BLAS); encoders: image-tower matmul precision (default f32)"),
    ]

    struct VNNIPeak: Encodable { let threads: Int; let gops: Double }

    struct GEMMReport: Encodable {
        let benchmark = "gemm"
        let dtype: String
        let blasCore: String
        let loadAverage: [Double]
        /// int8 only: the measured vpdpbusd ceiling per thread count.
        let vnniPeak: [VNNIPeak]?
        let results: [GEMMBenchmark.Result]
        let best2ThreadGFLOPS: Double?
        enum CodingKeys: String, CodingKey {
            case benchmark, dtype, blasCore = "blas_core", loadAverage = "load_average", vnniPeak = "vnni_peak_gops", results
            case best2ThreadGFLOPS = "max_gflops_2_threads"
        }
    }

    static func run(_ args: ParsedArguments) throws {
        guard let what = args.positionals.first else {
            throw UsageError(message: "bench needs a workload: gemm", command: name)
        }
        switch what {
        case "gemm": try gemm(args)
        case "encoders": try encoders(args)
        default: throw UsageError(message: "unknown benchmark '\(what)' (available: gemm, encoders)", command: name)
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
        let dtype = try ComputeDType(parsing: args.string("dtype") ?? "f32")
        warnIfDTypeIsSlow(dtype)
        let json = args.flag("json")
        let sizes = [768, 2304, 3072]
        var results: [GEMMBenchmark.Result] = []
        var peaks: [VNNIPeak] = []
        for t in threadCounts {
            if dtype == .int8, let peak = try GEMMBenchmark.vnniPeakGOPS(threads: t, minSeconds: seconds) {
                peaks.append(VNNIPeak(threads: t, gops: (peak * 10).rounded() / 10))
                if !json { print(String(format: "vpdpbusd peak, threads=%d            %7.1f GOP/s", t, peak)) }
            }
            for n in sizes {
                for k in sizes {
                    let r = dtype == .f32 ? try GEMMBenchmark.run(m: m, n: n, k: k, threads: t, minSeconds: seconds)
                        : try GEMMBenchmark.runPacked(m: m, n: n, k: k, threads: t, int8: dtype == .int8, minSeconds: seconds)
                    results.append(r)
                    if !json {
                        let unit = dtype == .int8 ? "GOP/s  " : "GFLOP/s"
                        var line = String(format: "M=%5d N=%5d K=%5d threads=%d  %7.1f \(unit)", m, n, k, t, r.gflops)
                        if let peak = peaks.first(where: { $0.threads == t }) { line += String(format: "  %3.0f %% of peak", 100 * r.gflops / peak.gops) }
                        print(line)
                    }
                }
            }
        }
        let best2 = results.filter { $0.threads == 2 }.map(\.gflops).max()
        if json {
            try printJSON(GEMMReport(dtype: dtype.rawValue, blasCore: Parallelism.blasCoreName, loadAverage: loadAverage(),
                                     vnniPeak: peaks.isEmpty ? nil : peaks, results: results,
                                     best2ThreadGFLOPS: best2.map { ($0 * 10).rounded() / 10 }))
        } else {
            let engine = dtype == .f32 ? "BLAS core: \(Parallelism.blasCoreName)"
                : "CKernels \(dtype.rawValue) GEMM (\(dtype == .int8 ? "AVX-512 VNNI" : "AVX-512 BF16")\((dtype == .int8 ? Int8GEMM.isAccelerated : BFloat16GEMM.isAccelerated) ? "" : " absent: portable C loop")), each thread its own GEMM"
            print(engine + "; load average: \(loadAverage())")
        }
    }
}

/// The 1, 5 and 15-minute load averages, recorded with every benchmark (the machine is shared).
func loadAverage() -> [Double] {
    guard let s = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return [] }
    return s.split(separator: " ").prefix(3).compactMap { Double($0) }
}

extension BenchCommand {
    struct EncoderReport: Encodable {
        let benchmark = "encoders"
        let arch: String, dtype: String, threads: Int, batch: Int
        let imageImagesPerSecond: Double, imageMillisecondsPerImage: Double
        let textPromptsPerSecond: Double
        let promptStepMilliseconds: Double
        let imagePeakRSSMegabytes: Double
        let peakRSSMegabytes: Double
        let loadAverage: [Double]
        enum CodingKeys: String, CodingKey {
            case benchmark, arch, dtype, threads, batch, loadAverage = "load_average"
            case imageImagesPerSecond = "image_images_per_s", imageMillisecondsPerImage = "image_ms_per_image"
            case textPromptsPerSecond = "text_prompts_per_s", peakRSSMegabytes = "peak_rss_mb"
            case promptStepMilliseconds = "prompt_step_ms", imagePeakRSSMegabytes = "image_peak_rss_mb"
        }
    }

    /// Image tower images/s and text tower prompts/s on random weights of a real architecture.
    static func encoders(_ args: ParsedArguments) throws {
        let archName = args.string("arch") ?? "ViT-B-16"
        guard let config = CLIPConfig.named(archName) else {
            throw UsageError(message: "unknown --arch '\(archName)' (ViT-B-16, ViT-B-32, ViT-L-14)", command: name)
        }
        let seconds = try args.double("seconds") ?? 10
        let batch = try args.int("batch", range: 1...256) ?? 8
        let dtype = try ComputeDType(parsing: args.string("dtype") ?? "f32")
        warnIfDTypeIsSlow(dtype)
        var model = try CLIPModel.random(config: config, seed: 0)
        try model.vision.setDType(dtype, releasingFP32Weights: true)
        var rng = RandomGenerator(seed: 1)
        let pixels = Tensor.normal(shape: [batch, 3, config.imageSize, config.imageSize], mean: 0, std: 1, using: &rng)
        _ = try model.encodeImages(pixels)
        var images = 0
        let start = DispatchTime.now().uptimeNanoseconds
        var elapsed = 0.0
        repeat {
            _ = try model.encodeImages(pixels)
            images += batch
            elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        } while elapsed < seconds
        let imageRate = Double(images) / elapsed
        let imagePeakRSS = peakRSSMegabytes()
        // Text: 100 class prompts of a typical length (SOT + 8 tokens + EOT), as in zero-shot heads.
        let prompts: [[Int32]] = (0..<100).map { (i: Int) -> [Int32] in
            let words: [Int32] = (0..<8).map { (j: Int) -> Int32 in Int32(320 + (i * 7 + j) % 4000) }
            return [49406] + words + [49407]
        }
        _ = try model.encodeTexts(Array(prompts.prefix(4)))
        let t0 = DispatchTime.now().uptimeNanoseconds
        var textRuns = 0
        repeat {
            _ = try model.encodeTexts(prompts)
            textRuns += 1
        } while Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9 < min(seconds, 5)
        let textRate = Double(textRuns * 100) / (Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
        let stepSeconds = try promptTuningStep(model: model, seconds: min(seconds, 5))
        let report = EncoderReport(arch: archName, dtype: dtype.rawValue, threads: Parallelism.threads, batch: batch,
                                   imageImagesPerSecond: (imageRate * 100).rounded() / 100,
                                   imageMillisecondsPerImage: (1000 / imageRate * 10).rounded() / 10,
                                   textPromptsPerSecond: textRate.rounded(),
                                   promptStepMilliseconds: (stepSeconds * 10_000).rounded() / 10,
                                   imagePeakRSSMegabytes: imagePeakRSS, peakRSSMegabytes: peakRSSMegabytes(),
                                   loadAverage: loadAverage())
        if args.flag("json") {
            try printJSON(report)
        } else {
            print(archName + " " + dtype.rawValue + String(format: " image tower: %.2f img/s (%.1f ms/img), batch %d, %d threads", imageRate, 1000 / imageRate, batch, Parallelism.threads))
            print(String(format: "text tower: %.0f prompts/s (100 prompts of 10 tokens)", textRate))
            print(String(format: "prompt-tuning step: %.1f ms (16 context vectors, 100 CIFAR-100 classes, 128 image embeddings, forward + backward + Adam)", stepSeconds * 1000))
            print(String(format: "peak RSS %.0f MB after the image tower (model + inference), %.0f MB in all; load average ",
                         imagePeakRSS, report.peakRSSMegabytes) + "\(report.loadAverage)")
        }
    }
}

extension BenchCommand {
    /// Seconds per prompt-tuning step as `clipcl run --method prompt` takes it: CoOp prompts (16 random
    /// context vectors + class name) for the 100 CIFAR-100 classes through the frozen text tower,
    /// cosine logits against 128 cached image embeddings, cross-entropy, backward to the context, Adam.
    static func promptTuningStep(model: CLIPModel, seconds: Double) throws -> Double {
        let encoder = CLIPPromptEncoder(tower: model.text, tokenizer: try CLIPTokenizer.standard())
        var config = RunConfig()
        config.method = .prompt
        config.epochs = 1
        config.batchSize = 128
        var rng = RandomGenerator(seed: 2)
        var method = try PromptTuning(encoder: encoder, config: config, rng: &rng)
        let names = try Benchmark.named("cifar100").classNames() ?? []
        let classes = Array(0..<names.count)
        let features = Tensor.normal(shape: [128, model.config.embedDim], mean: 0, std: 1, using: &rng)
        let data = TaskData(features: features, labels: (0..<128).map { $0 % names.count })
        let context = TaskContext(task: 0, taskClasses: classes, seenClasses: classes, lossClasses: classes,
                                  textFeatures: try Tensor(zeros: [names.count, model.config.embedDim]), classNames: names,
                                  logitScale: model.logitScaleExp)
        try method.beginTask(0, context: context)
        var steps = 0
        var start = DispatchTime.now().uptimeNanoseconds
        repeat {
            if steps == 1 { start = DispatchTime.now().uptimeNanoseconds }  // the first step warms up
            try method.train(task: 0, data: data, context: context, rng: &rng) { _ in }
            steps += 1
        } while steps < 3 || Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 < seconds
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 / Double(steps - 1)
    }
}

/// Peak resident set size of this process (VmHWM), in MB.
func peakRSSMegabytes() -> Double {
    guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
          let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return 0 }
    return kb / 1024
}
