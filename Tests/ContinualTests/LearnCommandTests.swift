import Datasets
import Foundation
import Testing
import TestSupport

/// `clipcl learn`, `predict` and `export` through the built binary, on a folder dataset of real Fashion-MNIST images
/// written as PNG (Debian's dataset-fashion-mnist), with the tiny HF-layout CLIP of the fixtures.
@Suite(.serialized) struct LearnCommandTests {
    static let binary = TestSupport.clipcl
    static let model = TestSupport.fixtures.appendingPathComponent("clip/hf-tiny").path
    static let otherModel = TestSupport.fixtures.appendingPathComponent("clip/openclip-tiny").path
    /// 32 images per class and split: each batch of 32 holds one class, in the cache as in a task folder, so
    /// `learn` and `extract` encode exactly the same batches.
    static let perClass = 32

    /// root/data/{train,test}/<class>/<n>.png (the run's folder dataset) and root/tasks/task-k/<class>/<n>.png.
    static func makeFolders(_ root: URL) throws -> [String] {
        let fm = FileManager.default
        let train = try MNISTReader.load(.fashionMNIST, split: .train, from: URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist"))
        let test = try MNISTReader.load(.fashionMNIST, split: .test, from: URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist"))
        let names = MNISTVariant.fashionMNIST.classNames.enumerated().map { "\($0.offset)-" + $0.element.replacingOccurrences(of: "/", with: "-") }
        func write(_ samples: LabeledSamples, into dirs: (Int) -> [URL]) throws {
            guard case let .pixels(batch) = samples.content else { throw TestSupportError("not pixels") }
            var count = [Int](repeating: 0, count: 10)
            for i in 0..<samples.count where count[samples.labels[i]] < perClass {
                let c = samples.labels[i]
                let png = PNGWriter.encode(width: batch.width, height: batch.height, channels: 1, pixels: Array(batch.image(at: i)))
                for dir in dirs(c) {
                    try fm.createDirectory(at: dir, withIntermediateDirectories: true)
                    try png.write(to: dir.appendingPathComponent(String(format: "%04d.png", count[c])))
                }
                count[c] += 1
            }
        }
        try write(train) { c in [root.appendingPathComponent("data/train/\(names[c])"),
                                 root.appendingPathComponent("tasks/task-\(c / 2)/\(names[c])")] }
        try write(test) { c in [root.appendingPathComponent("data/test/\(names[c])")] }
        return names
    }

    func clipcl(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try #require(FileManager.default.isExecutableFile(atPath: Self.binary.path), "no clipcl binary at \(Self.binary.path)")
        return try TestSupport.run(Self.binary.path, args, environment: ["CLIPCL_THREADS": "2", "HF_HUB_OFFLINE": "1"])
    }

    func temporaryDirectory() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-learn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    struct Prediction: Decodable { let image: String; let labels: [String]?; let probabilities: [Float]?; let error: String? }

    func predictions(_ state: String, folder: URL) throws -> [Prediction] {
        let r = try clipcl(["predict", "--state", state, "--folder", folder.path, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONDecoder().decode([Prediction].self, from: Data(r.stdout.utf8))
    }

    /// Correct top-1 predictions: an image's class is its folder.
    func correct(_ p: [Prediction]) -> Int {
        p.filter { $0.labels?.first == String($0.image.split(separator: "/").first ?? "") }.count
    }

    @Test func fiveLearnsThenPredictGiveTheRunsAccuracy() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try Self.makeFolders(root)
        let data = root.appendingPathComponent("data"), cache = root.appendingPathComponent("cache")
        for split in ["train", "test"] {
            let r = try clipcl(["extract", "--model", Self.model, "--dataset", "folder", "--root", data.path, "--split", split,
                                "--storage", "f32", "--out", cache.path])
            try #require(r.status == 0, "\(r.stderr)")
        }
        var state = ""
        for method in ["ncm", "linear"] {
            let settings = ["--method", method, "--epochs", "3", "--seeds", "3", "--batch-size", "16"]
            let run = try clipcl(["run", "--features", cache.path, "--increment", "2", "--out", root.appendingPathComponent("run-\(method)").path,
                                  "--json"] + settings)
            try #require(run.status == 0, "\(run.stderr)")
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(run.stdout.utf8)) as? [String: Any])
            let last = try #require(summary["last"] as? Double)

            state = root.appendingPathComponent("state-\(method)").path
            for k in 0..<5 {
                let r = try clipcl(["learn", "--state", state, "--task", root.appendingPathComponent("tasks/task-\(k)").path, "--holdout", "0"]
                                   + (k == 0 ? ["--model", Self.model] + settings : []))
                try #require(r.status == 0, "task \(k): \(r.stderr)")
                #expect(r.stdout.contains("state \(k + 1): learnt 2 classes"), "\(r.stdout)")
            }
            let p = try predictions(state, folder: data.appendingPathComponent("test"))
            #expect(p.count == 10 * Self.perClass)
            let accuracy = 100 * Double(correct(p)) / Double(p.count)
            #expect(abs(accuracy - last) < 1e-9, "\(method): predict \(accuracy) % vs run Last \(last) %")
            #expect(Set(p.compactMap { $0.labels?.first }).count >= 3, "\(method) predicts almost one class")
        }

        // An earlier state predicts as before a rollback to it, bit for bit.
        let third = try predictions(state + "@3", folder: data.appendingPathComponent("test"))
        let rolled = try clipcl(["learn", "--state", state, "--rollback", "3"])
        #expect(rolled.status == 0 && rolled.stdout.contains("state 3 is current: 6 classes"), "\(rolled.stdout)\(rolled.stderr)")
        let after = try predictions(state, folder: data.appendingPathComponent("test"))
        #expect(after.map { $0.probabilities!.map(\.bitPattern) } == third.map { $0.probabilities!.map(\.bitPattern) })
        #expect(after.map(\.labels) == third.map(\.labels))
        #expect(Set(after.compactMap { $0.labels?.first }).count <= 6)
    }

    static let torchPython = TestSupport.python(importing: "torch, transformers, PIL, safetensors")

    /// The README's PyTorch snippet (the python block after its marker comment), run on an exported head.
    @Test(.enabled(if: torchPython != nil || TestSupport.interopRequired,
                   "no Python with torch, transformers and pillow (tools/python-interop-venv.sh, or set CLIPCL_PYTHON): skipping the PyTorch snippet check"))
    func readmesPyTorchSnippetPredictsAsClipcl() throws {
        let python = try #require(Self.torchPython, "CLIPCL_REQUIRE_INTEROP=1 but no Python with torch, transformers and pillow")
        let readme = try String(contentsOf: TestSupport.repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let marker = try #require(readme.range(of: "<!-- the python block below is run by Tests/ContinualTests/LearnCommandTests.swift"))
        let start = try #require(readme.range(of: "```python\n", range: marker.upperBound..<readme.endIndex))
        let end = try #require(readme.range(of: "\n```", range: start.upperBound..<readme.endIndex))
        let snippet = String(readme[start.upperBound..<end.lowerBound])

        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let names = try Self.makeFolders(root)
        let state = root.appendingPathComponent("state").path
        for k in 0..<2 {
            let r = try clipcl(["learn", "--state", state, "--task", root.appendingPathComponent("tasks/task-\(k)").path]
                               + (k == 0 ? ["--model", Self.model, "--method", "linear", "--epochs", "3", "--batch-size", "16"] : []))
            try #require(r.status == 0, "\(r.stderr)")
        }
        let exported = try clipcl(["export", "--state", state, "--out", root.appendingPathComponent("head.safetensors").path])
        try #require(exported.status == 0, "\(exported.stderr)")
        let images = names.prefix(4).flatMap { name in (0..<5).map { root.appendingPathComponent("data/test/\(name)/000\($0).png").path } }
        // The venv's torchvision (installed for open_clip) is PyPI's CUDA build next to a CPU torch: the shim lets
        // transformers import it. A user's matching torch and torchvision need nothing.
        let torch = try TestSupport.run(python, ["-c", TestSupport.torchvisionShim + "\nimport os; os.chdir(\"\(root.path)\")\n" + snippet] + images)
        try #require(torch.status == 0, "\(torch.stderr)")
        let swift = try clipcl(["predict", "--state", state, "--json", "--top-k", "2"] + images)
        try #require(swift.status == 0, "\(swift.stderr)")
        let predicted = try JSONDecoder().decode([Prediction].self, from: Data(swift.stdout.utf8))
        let lines = torch.stdout.split(separator: "\n").map { $0.split(separator: " ") }
        try #require(lines.count == images.count, "\(torch.stdout)")
        for (line, p) in zip(lines, predicted) {
            let top = try #require(p.probabilities), labels = try #require(p.labels)
            #expect(String(line[0]) == p.image)
            #expect(abs((Float(line[2]) ?? -1) - top[0]) < 1e-3, "\(p.image): torch \(line[2]) vs clipcl \(top[0])")
            // The label must agree unless clipcl's top two are a near tie.
            if top[0] - top[1] > 1e-3 { #expect(String(line[1]) == labels[0], "\(p.image): torch \(line[1]) vs clipcl \(labels[0])") }
        }
    }

    @Test func badInputGetsOneLineAndLeavesTheStateAlone() throws {
        let root = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: root) }
        let names = try Self.makeFolders(root)
        let state = root.appendingPathComponent("state").path
        let task = { (k: Int) in root.appendingPathComponent("tasks/task-\(k)").path }
        func refused(_ args: [String], _ expected: String) throws {
            let r = try clipcl(args)
            #expect(r.status != 0, "accepted: \(args)")
            // One error line (a usage error adds its "(see: clipcl … --help)"; progress lines may come before).
            let errors = r.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
            #expect(errors.count == 1 && errors[0].contains(expected), "\(args.prefix(4)): \(r.stderr)")
        }
        // An empty folder, and a folder with one class, before any state exists.
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try refused(["learn", "--state", state, "--task", empty.path, "--model", Self.model], "one sub-folder per class")
        let one = root.appendingPathComponent("one")
        try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/task-0/\(names[0])"), to: one.appendingPathComponent(names[0]))
        try refused(["learn", "--state", state, "--task", one.path, "--model", Self.model], "has one class ('\(names[0])'); the first task needs at least two")
        #expect(!FileManager.default.fileExists(atPath: state + "/current"))

        let first = try clipcl(["learn", "--state", state, "--task", task(0), "--model", Self.model, "--method", "ncm"])
        try #require(first.status == 0, "\(first.stderr)")
        // An image in a mode the decoder does not take (16-bit gray), named with its path; the state stays at 1.
        let bad = root.appendingPathComponent("tasks/task-1/\(names[2])/zz-16bit.png")
        try PNGWriter.encode(width: 4, height: 4, channels: 1, bitDepth: 16, pixels: [UInt8](repeating: 7, count: 32)).write(to: bad)
        try refused(["learn", "--state", state, "--task", task(1)], "zz-16bit.png")
        try FileManager.default.removeItem(at: bad)
        // The same classes again; another model; method settings after the first learn.
        try refused(["learn", "--state", state, "--task", task(0)], "class '\(names[0])' is already learnt")
        try refused(["learn", "--state", state, "--task", task(1), "--model", Self.otherModel], "a state only learns with its own model")
        try refused(["learn", "--state", state, "--task", task(1), "--method", "linear"], "method settings are fixed by the first learn")
        #expect(try String(contentsOfFile: state + "/current", encoding: .utf8) == "1\n")
        // A state from a newer clipcl.
        let json = URL(fileURLWithPath: state + "/state-1/learner.json")
        let text = try String(contentsOf: json, encoding: .utf8)
        try text.replacingOccurrences(of: "\"version\" : 1", with: "\"version\" : 7").write(to: json, atomically: true, encoding: .utf8)
        try refused(["predict", "--state", state, "--folder", task(1)], "written by a newer clipcl (learner format 7")
        try text.write(to: json, atomically: true, encoding: .utf8)
        // predict: an undecodable image gets its own error line and the others are still classified.
        try Data("not an image".utf8).write(to: root.appendingPathComponent("broken.png"))
        let r = try clipcl(["predict", "--state", state, root.appendingPathComponent("broken.png").path,
                            root.appendingPathComponent("tasks/task-1/\(names[2])/0000.png").path])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("broken.png") && r.stdout.split(separator: "\n").count == 1, "\(r.stdout)\n\(r.stderr)")
    }
}
