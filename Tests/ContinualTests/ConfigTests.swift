import Continual
import Foundation
import Testing

@Suite struct ConfigTests {
    @Test func defaultsFollowMethodDoc() {
        let c = RunConfig()
        #expect(c.method == .linear && c.retention == .topk && c.optimizer == .adam)
        #expect(c.lr == 1e-3 && c.epochs == 15 && c.milestones == [4, 10] && c.gamma == 0.1 && c.batchSize == 100)
        #expect(c.schedule == .multistep && c.weightDecay == 0 && c.lossClasses == .auto && c.bias == 0.6)
        #expect(c.resolved().lossClasses == .current && c.replay == .none)
        #expect(c.attention.reading == .chunks && c.attention.tokens == 8 && c.attention.heads == 4)
        #expect(c.prompt.length == 16 && c.prompt.std == 0.02 && c.prompt.`init` == .random)
    }

    @Test func setAppliesTypedOverrides() throws {
        var c = RunConfig()
        try c.set(key: "method", value: "attention")
        try c.set(key: "retention", value: "soft-svd")
        try c.set(key: "rho", value: "0.2")
        try c.set(key: "lr", value: "5e-4")
        try c.set(key: "milestones", value: "[3, 8]")
        try c.set(key: "seeds", value: "1,2,3")
        try c.set(key: "normalize-input", value: "true")
        try c.set("attention.heads=2")
        try c.set("attention.reading=crossmodal")
        try c.set("prompt.init=phrase")
        try c.set("prompt.phrase=a good photo of a")
        #expect(c.method == .attention && c.retention == .softSVD && c.rho == 0.2 && c.lr == 5e-4)
        #expect(c.milestones == [3, 8] && c.seeds == [1, 2, 3] && c.normalizeInput)
        #expect(c.attention.heads == 2 && c.attention.reading == .crossmodal)
        #expect(c.prompt.`init` == .phrase && c.prompt.phrase == "a good photo of a")
        #expect(c.value(of: "milestones") == "3,8" && c.value(of: "retention") == "soft-svd")
        try c.set(key: "milestones", value: "")
        #expect(c.milestones.isEmpty)
    }

    @Test func unknownKeyAndWrongTypeNameTheKey() {
        var c = RunConfig()
        #expect(throws: ContinualError.invalidConfig(key: "learningRate", reason: "unknown key (known keys: \(RunConfig.keys.joined(separator: ", ")))")) {
            try c.set(key: "learningRate", value: "1")
        }
        for (key, value) in [("epochs", "ten"), ("lr", "fast"), ("method", "lora"), ("normalize-input", "yes"),
                             ("milestones", "4;10"), ("attention.heads", "2.5")] {
            do {
                try c.set(key: key, value: value)
                Issue.record("\(key)=\(value) should fail")
            } catch let ContinualError.invalidConfig(k, reason) {
                #expect(k == key && reason.contains(value), "\(reason)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
        #expect(c == RunConfig())
    }

    /// One spelling per key (kebab-case, the same for files, --set, --grid and flags); the camelCase spelling of
    /// earlier versions still works and says so.
    @Test func oldSpellingsWorkWithANote() throws {
        #expect(ConfigSpelling.kebab("lossClasses") == "loss-classes")
        #expect(ConfigSpelling.kebab("minLRFactor") == "min-lr-factor")
        #expect(ConfigSpelling.kebab("attention.mlpRatio") == "attention.mlp-ratio")
        var c = RunConfig()
        #expect(try c.set("loss-classes=current") == nil)
        #expect(c.lossClasses == .current)
        let note = try c.set("batchSize=32")
        #expect(c.batchSize == 32)
        #expect(note == "note: 'batchSize' is now spelled 'batch-size' (the old spelling still works)")
        var e = ExperimentConfig()
        #expect(try e.set("classOrder=seed:3")?.contains("'class-order'") == true)
        #expect(e.classOrder == .seeded(3))
        var notes: [String] = []
        let decoded = try ExperimentConfig.decode(Data(#"{"lossClasses": "current", "attention": {"mlpRatio": 2}, "class-order": "seed:1"}"#.utf8),
                                                  source: "c.json", notes: &notes)
        #expect(decoded.run.lossClasses == .current && decoded.run.attention.mlpRatio == 2 && decoded.classOrder == .seeded(1))
        #expect(notes.sorted() == ["c.json: note: 'attention.mlpRatio' is now spelled 'attention.mlp-ratio' (the old spelling still works)",
                                   "c.json: note: 'lossClasses' is now spelled 'loss-classes' (the old spelling still works)"])
        // What is written uses the one spelling.
        let json = String(decoding: try decoded.encoded(), as: UTF8.self)
        #expect(json.contains("\"loss-classes\"") && json.contains("\"mlp-ratio\"") && json.contains("\"class-order\"")
                && !json.contains("lossClasses"))
    }

    @Test func validateNamesTheKey() {
        var c = RunConfig()
        c.rho = 1.5
        #expect(throws: ContinualError.invalidConfig(key: "rho", reason: "must be in [0, 1], got 1.5")) { try c.validate() }
        c = RunConfig()
        c.lr = .infinity
        #expect(throws: ContinualError.self) { try c.validate() }
    }

    @Test func jsonRoundTripAndPartialFiles() throws {
        var c = RunConfig()
        try c.set("attention.tokens=16")
        try c.set("retention=soft")
        let data = try JSONEncoder().encode(c)
        #expect(try JSONDecoder().decode(RunConfig.self, from: data) == c)

        let partial = #"{"method": "ncm", "attention": {"heads": 8}, "milestones": [2]}"#
        let p = try JSONDecoder().decode(RunConfig.self, from: Data(partial.utf8))
        var expected = RunConfig()
        expected.method = .ncm
        expected.attention.heads = 8
        expected.milestones = [2]
        #expect(p == expected)

        #expect(throws: ContinualError.invalidConfig(key: "attention.head", reason: "unknown key")) {
            try JSONDecoder().decode(RunConfig.self, from: Data(#"{"attention": {"head": 8}}"#.utf8))
        }
        do {
            _ = try JSONDecoder().decode(RunConfig.self, from: Data(#"{"epochs": "15"}"#.utf8))
            Issue.record("a string for an Int should fail")
        } catch let ContinualError.invalidConfig(key, _) {
            #expect(key == "epochs")
        }
    }

    @Test func resolvedDropsRetentionForBaselines() {
        for m in [MethodKind.finetune, .joint, .zeroshot, .ncm] {
            var c = RunConfig()
            c.method = m
            #expect(c.resolved().retention == .none)
        }
        #expect(RunConfig().resolved().retention == .topk)
    }
}
