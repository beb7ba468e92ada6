import Foundation
import Testing
@testable import CLIP
@testable import TensorKit

/// Parity with the reference implementations on small random-weight checkpoints written by
/// tools/make_clip_fixtures.py with transformers (HF layout, F16 weights, QuickGELU) and
/// open_clip (OpenAI layout, BF16 + F32 weights, exact GELU).
@Suite struct ModelParityTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/clip")

    struct Manifest: Decodable {
        struct Image: Decodable { let file: String }
        let texts: [String]
        let images: [Image]
    }

    let manifest: Manifest

    init() throws {
        manifest = try JSONDecoder().decode(Manifest.self, from: Data(contentsOf: Self.root.appendingPathComponent("manifest.json")))
    }

    func expected(_ name: String) throws -> SafeTensorsFile {
        try SafeTensorsFile(contentsOf: Self.root.appendingPathComponent("\(name)-expected.safetensors"))
    }

    func maxAbs(_ a: Tensor, _ b: Tensor) throws -> Float {
        try #require(a.maxAbsDifference(b), "shapes \(a.shape) vs \(b.shape)")
    }

    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func tokensEmbeddingsAndLogitsMatch(_ name: String) throws {
        let clip = try ModelSource.load(Self.root.appendingPathComponent(name).path)
        let ref = try expected(name)
        #expect(clip.layout == (name == "hf-tiny" ? .huggingFace : .openCLIP))

        // Token ids identical (HF pads with 49407, OpenAI with 0; both come from the checkpoint's own rules).
        let ids = try clip.tokenize(manifest.texts)
        #expect(ids.flatMap { $0.map(Int64.init) } == (try ref.int64s("input_ids")))

        // Embeddings from the reference pixels, so this checks the model alone.
        let pixels = try ref.tensor("pixel_values")
        let image = try clip.model.encodeImages(pixels)
        let text = try clip.model.encodeTexts(ids)
        #expect(try maxAbs(image, ref.tensor("image_features_raw")) <= 1e-4)
        #expect(try maxAbs(text, ref.tensor("text_features_raw")) <= 1e-4)
        #expect(try maxAbs(try image.l2Normalized(), ref.tensor("image_embeds")) <= 1e-4)
        #expect(try maxAbs(try text.l2Normalized(), ref.tensor("text_embeds")) <= 1e-4)
        let logits = try clip.model.logits(imageEmbeddings: image, textEmbeddings: text)
        #expect(try maxAbs(logits, ref.tensor("logits_per_image")) <= 1e-3)
    }

    /// Cosine similarity of each row pair.
    static func rowCosines(_ a: Tensor, _ b: Tensor) throws -> [Float] {
        let na = try a.l2Normalized(), nb = try b.l2Normalized(), d = a.shape[1]
        return (0..<a.shape[0]).map { i in (0..<d).reduce(Float(0)) { $0 + na.storage[i * d + $1] * nb.storage[i * d + $1] } }
    }

    /// bf16 matmuls against the reference implementations' fp32 image features.
    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func bf16ImageEmbeddingsStayWithinCosine0999(_ name: String) throws {
        var clip = try ModelSource.load(Self.root.appendingPathComponent(name).path)
        let ref = try expected(name)
        try clip.model.vision.setDType(.bf16)
        #expect(clip.model.vision.dtype == .bf16)
        let image = try clip.model.encodeImages(try ref.tensor("pixel_values"))
        let reference = try ref.tensor("image_features_raw")
        for c in try Self.rowCosines(image, reference) { #expect(c >= 0.999) }
        // It is a different computation, not the fp32 one relabelled.
        #expect(try maxAbs(image, reference) > 1e-5)
        try clip.model.vision.setDType(.f32)
        #expect(try maxAbs(try clip.model.encodeImages(try ref.tensor("pixel_values")), reference) <= 1e-4)
    }

    /// int8 matmuls (per-channel weights, per-row activations) against the reference implementations' fp32
    /// image features, and bf16 → int8 → fp32 while the fp32 weights are kept.
    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func int8ImageEmbeddingsStayWithinCosine099(_ name: String) throws {
        var clip = try ModelSource.load(Self.root.appendingPathComponent(name).path)
        let ref = try expected(name)
        let reference = try ref.tensor("image_features_raw"), pixels = try ref.tensor("pixel_values")
        try clip.model.vision.setDType(.bf16)
        let bf16 = try clip.model.encodeImages(pixels)
        try clip.model.vision.setDType(.int8)
        #expect(clip.model.vision.dtype == .int8)
        let image = try clip.model.encodeImages(pixels)
        for c in try Self.rowCosines(image, reference) { #expect(c >= 0.99, "\(name): cosine \(c)") }
        // Its own computation: neither fp32 nor bf16 relabelled.
        #expect(try maxAbs(image, reference) > 1e-4)
        #expect(try maxAbs(image, bf16) > 1e-4)
        try clip.model.vision.setDType(.f32)
        #expect(try maxAbs(try clip.model.encodeImages(pixels), reference) <= 1e-4)
    }

    /// The same on a random tower of ViT-B/32's width and token count (4 of its 12 layers, to keep
    /// the debug-build test short), against our fp32 path; with the fp32 weights released, no other format.
    @Test(arguments: [(ComputeDType.bf16, Float(0.999)), (.int8, 0.99)])
    func reducedPrecisionOnAFullWidthRandomTower(_ dtype: ComputeDType, _ cosine: Float) throws {
        var config = CLIPConfig.vitB32
        config.vision.layers = 4
        config.text = TowerConfig(width: 64, layers: 1, heads: 1, mlpWidth: 64, activation: .quickGELU)
        var model = try CLIPModel.random(config: config, seed: 5)
        var rng = RandomGenerator(seed: 6)
        let pixels = Tensor.normal(shape: [3, 3, 224, 224], mean: 0, std: 1, using: &rng)
        let fp32 = try model.encodeImages(pixels)
        try model.vision.setDType(dtype, releasingFP32Weights: true)
        let reduced = try model.encodeImages(pixels)
        for c in try Self.rowCosines(reduced, fp32) { #expect(c >= cosine, "\(dtype): cosine \(c)") }
        #expect(model.vision.blocks.allSatisfy { $0.fc1.weight.value.count == 0 })
        for other in ComputeDType.allCases where other != dtype {
            #expect(throws: TensorError.self) { try model.vision.setDType(other) }
        }
    }

    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func preprocessingMatchesWithinOneLSB(_ name: String) throws {
        let clip = try ModelSource.load(Self.root.appendingPathComponent(name).path)
        let ref = try expected(name)
        let urls = manifest.images.map { Self.root.appendingPathComponent("images").appendingPathComponent($0.file) }
        let pixels = try clip.pixels(for: urls)
        // HF's torchvision backend is the reference for hf-tiny; Pillow's for open_clip.
        let err = try maxAbs(pixels, ref.tensor("pixel_values"))
        #expect(err <= 0.0165, "\(name): max-abs pixel difference \(err) (1 LSB ≈ 0.0146/std)")
        if name == "hf-tiny" {
            // HF's PIL backend runs the same algorithm as ours; allow for JPEG decoder differences only.
            #expect(try maxAbs(pixels, ref.tensor("pixel_values_pil_backend")) <= 0.0165)
        }
        // End to end: our pixels through our model stay close to the reference embeddings.
        let e = try clip.model.encodeImages(pixels).l2Normalized()
        #expect(try maxAbs(e, ref.tensor("image_embeds")) <= 5e-3)
    }

    @Test func openCLIPArchitectureInferredFromShapesWithoutConfig() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-infer-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("weights.safetensors")
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("openclip-tiny/open_clip_model.safetensors"), to: file)
        let clip = try ModelSource.load(file.path)
        let given = try ConfigReader.openCLIP(Data(contentsOf: Self.root.appendingPathComponent("openclip-tiny/open_clip_config.json")), source: "fixture")
        // Everything but the head count (not stored in OpenAI-layout files) and the activation is recovered.
        var c = clip.model.config
        #expect(c.vision.width == given.vision.width && c.vision.layers == given.vision.layers)
        #expect(c.text.width == given.text.width && c.text.layers == given.text.layers)
        #expect(c.patchSize == given.patchSize && c.imageSize == given.imageSize && c.embedDim == given.embedDim)
        #expect(c.vision.mlpWidth == given.vision.mlpWidth && c.contextLength == given.contextLength)
        c.vision.heads = given.vision.heads
        c.text.heads = given.text.heads
        c.vision.activation = given.vision.activation
        c.text.activation = given.text.activation
        #expect(c == given)
    }

    @Test func configContradictingTensorsNamesTheTensor() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-bad-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.root.appendingPathComponent("hf-tiny"), to: dir)
        defer { try? FileManager.default.removeItem(at: dir) }
        let configURL = dir.appendingPathComponent("config.json")
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: configURL)) as! [String: Any]
        var vision = json["vision_config"] as! [String: Any]
        vision["intermediate_size"] = 128
        json["vision_config"] = vision
        try JSONSerialization.data(withJSONObject: json).write(to: configURL)
        do {
            _ = try ModelSource.load(dir.path)
            Issue.record("loading should fail")
        } catch {
            #expect("\(error)".contains("vision_model.encoder.layers.0.mlp.fc1.weight"))
            #expect("\(error)".contains("[256, 64]") && "\(error)".contains("[128, 64]"))
        }
    }

    /// The decoder against Pillow's decode of every CLIP fixture image (images/decoded.safetensors, U8 [H, W, C]):
    /// PNG and JPEG alike, since the system libjpeg-turbo decodes as Pillow's does.
    @Test func imagesDecodeAsPillowDecodesThem() throws {
        let decoded = try SafeTensorsFile(contentsOf: Self.root.appendingPathComponent("images/decoded.safetensors"))
        #expect(decoded.names.sorted() == manifest.images.map(\.file).sorted())
        for image in manifest.images {
            let ours = try ImageDecoder.decode(contentsOf: Self.root.appendingPathComponent("images/" + image.file))
            let shape = try #require(decoded.entry(image.file)?.shape)
            #expect([ours.height, ours.width, ours.channels] == shape, "\(image.file)")
            let pillow = try decoded.withRawBytes(image.file) { [UInt8]($0) }
            #expect(ours.pixels == pillow, "\(image.file): pixels differ from Pillow's")
        }
    }

    @Test func unsupportedFilesAreRefusedWithOneLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-refuse-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let pt = dir.appendingPathComponent("model.pt")
        try Data([0x80, 0x02]).write(to: pt)
        let ptError = #expect(throws: TorchCheckpointError.self) { try ModelSource.load(pt.path) }
        #expect(ptError?.description == pt.path + ": not a PyTorch checkpoint (torch.save writes a zip archive; this file does not start with one)")
        // A folder without a checkpoint, and a truncated safetensors file: one line each, naming the path.
        try FileManager.default.removeItem(at: pt)
        let folderError = #expect(throws: CLIPError.self) { try ModelSource.load(dir.path) }
        #expect("\(folderError!)".hasPrefix(dir.path + ": not a checkpoint folder") && !"\(folderError!)".contains("\n"))
        let truncated = dir.appendingPathComponent("t.safetensors")
        try Data([100, 0, 0, 0, 0, 0, 0, 0, 123]).write(to: truncated)
        let cut = #expect(throws: SafeTensorsError.self) { try ModelSource.load(truncated.path) }
        #expect(cut?.description == truncated.path + ": header length 100 runs past the end of the 9-byte file")
    }
}

/// Layer by layer against the reference implementations' hidden states (the per-layer tensors of the fixture
/// files): when the end-to-end parity above fails, these say which layer first departs.
@Suite struct LayerParityTests {
    func maxAbs(_ a: Tensor, _ b: Tensor) throws -> Float { try #require(a.maxAbsDifference(b), "shapes \(a.shape) vs \(b.shape)") }

    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func textTowerLayerByLayer(_ name: String) throws {
        let clip = try ModelSource.load(ModelParityTests.root.appendingPathComponent(name).path)
        let ref = try SafeTensorsFile(contentsOf: ModelParityTests.root.appendingPathComponent("\(name)-expected.safetensors"))
        let tower = clip.model.text, w = clip.model.config.text.width
        let ids = try ref.int64s("input_ids").prefix(77).map(Int.init)
        let eot = Int(try ref.int64s("text_eot_index")[0])
        // Positions after the end-of-text token differ by design (HF also masks padding keys there): compare 0...eot.
        func head(_ t: Tensor) throws -> Tensor { try t.reshaped([t.count / w, w]).slice(axis: 0, 0..<(eot + 1)) }
        var x = try tower.tokenEmbedding.gather(rows: ids, indexShape: [1, 77]) + (try tower.positionalEmbedding.slice(axis: 0, 0..<77))
        #expect(try maxAbs(head(x.value), head(ref.tensor("text_hidden_0"))) <= 1e-5, "\(name) embeddings")
        for (i, block) in tower.blocks.enumerated() {
            x = try block(x, mask: .causal)
            #expect(try maxAbs(head(x.value), head(ref.tensor("text_hidden_\(i + 1)"))) <= 1e-4, "\(name) text layer \(i)")
        }
        let final = try tower.finalLayerNorm(x)
        #expect(try maxAbs(head(final.value), head(ref.tensor("text_final_ln"))) <= 1e-4, "\(name) ln_final")
        #expect(try maxAbs(try head(final.value).slice(axis: 0, eot..<(eot + 1)).reshaped([w]), ref.tensor("text_pooled")) <= 1e-4)
    }

    @Test(arguments: ["hf-tiny", "openclip-tiny"])
    func imageTowerLayerByLayer(_ name: String) throws {
        let clip = try ModelSource.load(ModelParityTests.root.appendingPathComponent(name).path)
        let ref = try SafeTensorsFile(contentsOf: ModelParityTests.root.appendingPathComponent("\(name)-expected.safetensors"))
        let vision = clip.model.vision
        let embeddings = try ref.tensor("vision_embeddings")   // [tokens, width]: class + patch embeddings + positions
        var x = try vision.preLayerNorm(Variable(embeddings.reshaped([1] + embeddings.shape)))
        #expect(try maxAbs(x.value.reshaped(embeddings.shape), ref.tensor("vision_hidden_0")) <= 1e-4, "\(name) ln_pre")
        for (i, block) in vision.blocks.enumerated() {
            x = try block(x, mask: .none)
            #expect(try maxAbs(x.value.reshaped(embeddings.shape), ref.tensor("vision_hidden_\(i + 1)")) <= 1e-4, "\(name) image layer \(i)")
        }
        let pooled = try vision.postLayerNorm(Variable(try x.value.reshaped(embeddings.shape).slice(axis: 0, 0..<1)))
        #expect(try maxAbs(pooled.value.reshaped([embeddings.shape[1]]), ref.tensor("vision_pooled")) <= 1e-4, "\(name) ln_post")
    }
}
