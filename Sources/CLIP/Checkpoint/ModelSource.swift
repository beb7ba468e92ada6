import Foundation
import TensorKit

/// Everything needed to use a checkpoint: the model, its tokenizer, its preprocessing, and
/// where it came from. `load(_:)` accepts
/// - an HF transformers folder (config.json + model.safetensors or sharded index),
/// - an open_clip folder (open_clip_config.json + open_clip_model.safetensors),
/// - a single OpenAI/open_clip-layout .safetensors file (config from a sibling
///   `open_clip_config.json` or `<name>_config.json`, else inferred from the tensor shapes),
/// - a hub id `org/name` that is not a local path, downloaded into the cache first,
/// - `random:ARCH[:SEED]` (ARCH = ViT-B-16, ViT-B-32, ViT-L-14): random weights of a real
///   architecture, for benchmarks and for exercising the pipeline offline. Not a CLIP model: its
///   embeddings carry no knowledge, and nothing computed with it is a CLIP result.
public struct LoadedCLIP: Sendable {
    public var model: CLIPModel
    public var tokenizer: CLIPTokenizer
    public var preprocess: PreprocessConfig
    public var layout: CheckpointLayout
    /// The name the user gave (a path or a hub id).
    public var modelID: String
    /// The weights file(s) used.
    public var weightFiles: [URL]

    public var contextLength: Int { model.config.contextLength }
}

public struct ModelLoadOptions: Sendable {
    /// Overrides the tokenizer cleaning implied by the layout.
    public var cleaning: TextCleaning?
    /// Activation to assume when the architecture must be inferred from shapes.
    public var inferredActivation: Activation = .quickGELU
    public var hub: HubClient?

    public init(cleaning: TextCleaning? = nil, inferredActivation: Activation = .quickGELU, hub: HubClient? = nil) {
        self.cleaning = cleaning
        self.inferredActivation = inferredActivation
        self.hub = hub
    }
}

public enum ModelSource {
    public static func load(_ id: String, options: ModelLoadOptions = ModelLoadOptions()) throws -> LoadedCLIP {
        if id.hasPrefix("random:") { return try loadRandom(id, options) }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        if fm.fileExists(atPath: id, isDirectory: &isDir) {
            let url = URL(fileURLWithPath: id)
            return isDir.boolValue ? try loadFolder(url, id: id, options) : try loadFile(url, id: id, options)
        }
        guard HubClient.isRepoID(id) else {
            throw CLIPError.unsupportedCheckpoint(id, "no such file or folder, and not a hub id of the form org/name")
        }
        let hub = options.hub ?? HubClient()
        let folder = try download(id, hub: hub)
        return try loadFolder(folder, id: id, options)
    }

    static func loadRandom(_ id: String, _ options: ModelLoadOptions) throws -> LoadedCLIP {
        let parts = id.split(separator: ":").map(String.init)
        guard parts.count == 2 || parts.count == 3, let config = CLIPConfig.named(parts[1]),
              let seed = parts.count == 3 ? UInt64(parts[2]) : 0 else {
            throw CLIPError.unsupportedCheckpoint(id, "random models are named random:ARCH[:SEED] with ARCH one of ViT-B-16, ViT-B-32, ViT-L-14")
        }
        return LoadedCLIP(model: try CLIPModel.random(config: config, seed: seed),
                          tokenizer: try CLIPTokenizer.standard(cleaning: options.cleaning ?? .openai),
                          preprocess: .openAI(imageSize: config.imageSize), layout: .openCLIP, modelID: id, weightFiles: [])
    }

    /// True for models made by `random:` ids (no pre-trained weights).
    public static func isRandom(_ id: String) -> Bool { id.hasPrefix("random:") }

    /// Fetches the files of an HF-layout repo, or of an open_clip repo when it has no config.json.
    static func download(_ repo: String, hub: HubClient) throws -> URL {
        do {
            _ = try hub.file(repo: repo, path: "config.json")
        } catch HubError.notFound {
            return try hub.snapshot(repo: repo, required: ["open_clip_config.json", "open_clip_model.safetensors"], optional: [])
        }
        let folder: URL
        do {
            folder = try hub.snapshot(repo: repo, required: ["config.json", "model.safetensors"],
                                      optional: ["preprocessor_config.json", "vocab.json", "merges.txt", "tokenizer.json"])
        } catch HubError.notFound {
            let index = try hub.file(repo: repo, path: "model.safetensors.index.json")
            let shards = try shardNames(index)
            folder = try hub.snapshot(repo: repo, required: ["config.json", "model.safetensors.index.json"] + shards,
                                      optional: ["preprocessor_config.json", "vocab.json", "merges.txt", "tokenizer.json"])
        }
        return folder
    }

    static func shardNames(_ index: URL) throws -> [String] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(contentsOf: index)) as? [String: Any],
              let map = obj["weight_map"] as? [String: String] else {
            throw CLIPError.unsupportedCheckpoint(index.path, "index file has no \"weight_map\" object of strings")
        }
        return Set(map.values).sorted()
    }

    static func loadFolder(_ dir: URL, id: String, _ options: ModelLoadOptions) throws -> LoadedCLIP {
        let fm = FileManager.default
        func has(_ name: String) -> Bool { fm.fileExists(atPath: dir.appendingPathComponent(name).path) }
        if has("config.json") {
            let configURL = dir.appendingPathComponent("config.json")
            let config = try ConfigReader.huggingFace(try Data(contentsOf: configURL), source: configURL.path)
            let store: WeightStore
            if has("model.safetensors") {
                store = try WeightStore(file: dir.appendingPathComponent("model.safetensors"))
            } else if has("model.safetensors.index.json") {
                store = try WeightStore(index: dir.appendingPathComponent("model.safetensors.index.json"))
            } else {
                throw CLIPError.unsupportedCheckpoint(dir.path, "expected model.safetensors or model.safetensors.index.json next to config.json (pickle .bin weights are not read)")
            }
            let layout = CheckpointLayout.detect(Set(store.names)) ?? .huggingFace
            let model = try ModelLoader.load(store: store, config: config, layout: layout)
            let cleaning = options.cleaning ?? .huggingface
            let tokenizer: CLIPTokenizer
            if has("vocab.json") && has("merges.txt") {
                tokenizer = try CLIPTokenizer(mergesFile: dir.appendingPathComponent("merges.txt"),
                                              vocabFile: dir.appendingPathComponent("vocab.json"), cleaning: cleaning)
            } else if has("tokenizer.json") {
                tokenizer = try CLIPTokenizer(tokenizerJSON: dir.appendingPathComponent("tokenizer.json"), cleaning: cleaning)
            } else {
                tokenizer = try CLIPTokenizer.standard(cleaning: cleaning)
            }
            var preprocess = PreprocessConfig.huggingFace(imageSize: config.imageSize)
            if has("preprocessor_config.json") {
                preprocess = try PreprocessConfig.huggingFace(preprocessorConfig: Data(contentsOf: dir.appendingPathComponent("preprocessor_config.json")))
            }
            return LoadedCLIP(model: model, tokenizer: tokenizer, preprocess: preprocess, layout: layout,
                              modelID: id, weightFiles: store.files.map(\.url))
        }
        if has("open_clip_model.safetensors") {
            return try loadFile(dir.appendingPathComponent("open_clip_model.safetensors"), id: id, options)
        }
        throw CLIPError.unsupportedCheckpoint(dir.path, "not a checkpoint folder: expected config.json (HF) or open_clip_model.safetensors (open_clip)")
    }

    /// A single OpenAI/open_clip-layout safetensors file.
    static func loadFile(_ url: URL, id: String, _ options: ModelLoadOptions) throws -> LoadedCLIP {
        guard url.pathExtension == "safetensors" else {
            throw CLIPError.unsupportedCheckpoint(url.path, "only .safetensors checkpoints are read (pickle .pt/.bin files are refused; convert them offline)")
        }
        let store = try WeightStore(file: url)
        guard let layout = CheckpointLayout.detect(Set(store.names)) else {
            throw CLIPError.unsupportedCheckpoint(url.path, "neither an HF CLIP nor an OpenAI/open_clip CLIP layout (timm vision-only files are not supported)")
        }
        let dir = url.deletingLastPathComponent()
        let stem = url.deletingPathExtension().lastPathComponent
        let candidates = [dir.appendingPathComponent("open_clip_config.json"), dir.appendingPathComponent("\(stem)_config.json"),
                          dir.appendingPathComponent("\(stem).json")]
        let configURL = candidates.first { FileManager.default.fileExists(atPath: $0.path) }
        var preprocess = PreprocessConfig.openAI(imageSize: 224)
        let config: CLIPConfig
        if layout == .huggingFace {
            throw CLIPError.unsupportedCheckpoint(url.path, "an HF-layout weights file needs its folder with config.json; pass the folder")
        }
        if let configURL {
            let data = try Data(contentsOf: configURL)
            config = try ConfigReader.openCLIP(data, source: configURL.path)
            preprocess = try openCLIPPreprocess(data, imageSize: config.imageSize, source: configURL.path)
        } else {
            config = try ConfigReader.inferOpenCLIP(store, activation: options.inferredActivation, source: url.path)
            preprocess = PreprocessConfig.openAI(imageSize: config.imageSize)
        }
        let model = try ModelLoader.load(store: store, config: config, layout: layout)
        let tokenizer = try CLIPTokenizer.standard(cleaning: options.cleaning ?? .openai)
        return LoadedCLIP(model: model, tokenizer: tokenizer, preprocess: preprocess, layout: layout,
                          modelID: id, weightFiles: [url])
    }

    /// open_clip's `preprocess_cfg` (mean/std) on top of the OpenAI pipeline.
    static func openCLIPPreprocess(_ data: Data, imageSize: Int, source: String) throws -> PreprocessConfig {
        var p = PreprocessConfig.openAI(imageSize: imageSize)
        let root = try ConfigReader.jsonObject(data, source)
        if let cfg = root["preprocess_cfg"] as? [String: Any] {
            if let mean = cfg["mean"] as? [Double], mean.count == 3 { p.mean = mean.map(Float.init) }
            if let std = cfg["std"] as? [Double], std.count == 3 {
                guard std.allSatisfy({ $0 > 0 }) else { throw CLIPError.invalidConfig(source, "preprocess_cfg.std must be positive") }
                p.std = std.map(Float.init)
            }
        }
        return p
    }
}
