import Foundation
import TensorKit

/// Everything needed to use a checkpoint: the model, its tokenizer, its preprocessing, and
/// where it came from. `load(_:)` accepts
/// - an HF transformers folder (config.json of a CLIP model + model.safetensors, pytorch_model.bin, or a sharded index),
/// - an open_clip folder (open_clip_config.json + open_clip_model.safetensors or open_clip_pytorch_model.bin),
/// - a single OpenAI/open_clip-layout weights file, safetensors or a torch.save state dict (.bin/.pt/.pth; config
///   from a sibling `open_clip_config.json` or `<name>_config.json`, else inferred from the tensor shapes),
/// - a hub id `org/name`, `org/name@REV` or `hf-hub:org/name` that is not a local path: its files come from
///   Hugging Face's cache, downloaded first when missing (`HubRepository`),
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
    /// The hub commit the files came from (hub ids only).
    public var revision: String?

    public var contextLength: Int { model.config.contextLength }
}

public struct ModelLoadOptions: Sendable {
    /// Overrides the tokenizer cleaning implied by the layout.
    public var cleaning: TextCleaning?
    /// Activation to assume when the architecture must be inferred from shapes.
    public var inferredActivation: Activation = .quickGELU
    public var hub: HubClient?
    /// Branch, tag, commit or `refs/pr/N` of a hub id (`org/name@REV` says the same).
    public var revision: String?

    public init(cleaning: TextCleaning? = nil, inferredActivation: Activation = .quickGELU, hub: HubClient? = nil,
                revision: String? = nil) {
        self.cleaning = cleaning
        self.inferredActivation = inferredActivation
        self.hub = hub
        self.revision = revision
    }
}

/// The files of each checkpoint layout, most preferred first (safetensors before pickles).
enum CheckpointFiles {
    static let hfConfig = "config.json"
    static let hfWeights = ["model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json"]
    static let openCLIPConfig = "open_clip_config.json"
    static let openCLIPWeights = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
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
        guard let (repo, atRevision) = HubClient.parseModelID(id) else {
            throw CLIPError.unsupportedCheckpoint(id, "no such file or folder, and not a hub id of the form org/name[@revision]")
        }
        if let r = options.revision, let a = atRevision, r != a {
            throw CLIPError.unsupportedCheckpoint(id, "names revision '\(a)' but --revision says '\(r)'")
        }
        let repository = try (options.hub ?? HubClient()).repository(repo, revision: options.revision ?? atRevision ?? "main")
        var clip = try loadFolder(try fetch(repository), id: id, options)
        clip.revision = repository.commit
        return clip
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

    /// Makes sure the files of the repo's checkpoint are in the cache; returns its snapshot folder.
    /// `config.json` decides the layout only when it is an HF CLIP config; otherwise the open_clip files are used
    /// (repos such as timm/vit_base_patch16_clip_224.openai carry a timm config.json and timm weights beside them).
    static func fetch(_ repo: HubRepository) throws -> URL {
        func first(_ names: [String], what: String) throws -> URL {
            if let url = try repo.firstAvailable(names) { return url }
            if repo.client.offline {
                throw HubError.offlineNotCached(repo: repo.id, path: names.joined(separator: " or "),
                                                cachePath: repo.snapshotDirectory?.path ?? repo.cache.folder.path)
            }
            throw CLIPError.unsupportedCheckpoint("hub repo '\(repo.id)' at '\(repo.revision)'",
                                                  "\(what), but none of \(names.joined(separator: ", "))")
        }
        if let config = try repo.fileIfPresent(CheckpointFiles.hfConfig),
           ConfigReader.isHuggingFaceCLIP(FileManager.default.contents(atPath: config.path) ?? Data()) {
            let weights = try first(CheckpointFiles.hfWeights, what: "has an HF CLIP config.json")
            if weights.lastPathComponent.hasSuffix(".index.json") {
                for shard in try WeightStore.shardNames(index: weights) { _ = try repo.file(shard) }
            }
            _ = try repo.fileIfPresent("preprocessor_config.json")
            let vocab = try repo.fileIfPresent("vocab.json"), merges = try repo.fileIfPresent("merges.txt")
            if vocab == nil || merges == nil { _ = try repo.fileIfPresent("tokenizer.json") }
        } else {
            guard try repo.fileIfPresent(CheckpointFiles.openCLIPConfig) != nil else {
                throw CLIPError.unsupportedCheckpoint("hub repo '\(repo.id)' at '\(repo.revision)'",
                                                      "not a CLIP checkpoint: neither an HF CLIP config.json nor open_clip_config.json")
            }
            _ = try first(CheckpointFiles.openCLIPWeights, what: "has open_clip_config.json")
        }
        return repo.snapshotDirectory!
    }

    static func loadFolder(_ dir: URL, id: String, _ options: ModelLoadOptions) throws -> LoadedCLIP {
        let fm = FileManager.default
        func has(_ name: String) -> Bool { fm.fileExists(atPath: dir.appendingPathComponent(name).path) }
        let configURL = dir.appendingPathComponent(CheckpointFiles.hfConfig)
        if let data = fm.contents(atPath: configURL.path), ConfigReader.isHuggingFaceCLIP(data) {
            let config = try ConfigReader.huggingFace(data, source: configURL.path)
            guard let weights = CheckpointFiles.hfWeights.first(where: has) else {
                throw CLIPError.unsupportedCheckpoint(dir.path, "expected one of \(CheckpointFiles.hfWeights.joined(separator: ", ")) next to config.json")
            }
            let url = dir.appendingPathComponent(weights)
            let store = weights.hasSuffix(".index.json") ? try WeightStore(index: url) : try WeightStore(file: url)
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
        if let weights = CheckpointFiles.openCLIPWeights.first(where: has) {
            return try loadFile(dir.appendingPathComponent(weights), id: id, options)
        }
        throw CLIPError.unsupportedCheckpoint(dir.path, "not a checkpoint folder: expected an HF CLIP config.json with its weights, "
                                              + "or open_clip_model.safetensors / open_clip_pytorch_model.bin (open_clip)")
    }

    /// A single OpenAI/open_clip-layout weights file (safetensors or a torch.save state dict).
    static func loadFile(_ url: URL, id: String, _ options: ModelLoadOptions) throws -> LoadedCLIP {
        let store = try WeightStore(file: url)
        guard let layout = CheckpointLayout.detect(Set(store.names)) else {
            throw CLIPError.unsupportedCheckpoint(url.path, "neither an HF CLIP nor an OpenAI/open_clip CLIP layout (timm vision-only files are not supported)")
        }
        if layout == .huggingFace {
            throw CLIPError.unsupportedCheckpoint(url.path, "an HF-layout weights file needs its folder with config.json; pass the folder")
        }
        let dir = url.deletingLastPathComponent()
        let stem = url.deletingPathExtension().lastPathComponent
        let candidates = [dir.appendingPathComponent(CheckpointFiles.openCLIPConfig), dir.appendingPathComponent("\(stem)_config.json"),
                          dir.appendingPathComponent("\(stem).json")]
        let configURL = candidates.first { FileManager.default.fileExists(atPath: $0.path) }
        let config: CLIPConfig
        let preprocess: PreprocessConfig
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
