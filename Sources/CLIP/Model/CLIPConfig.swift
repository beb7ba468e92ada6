import Foundation
import TensorKit

/// Architecture of one transformer tower.
public struct TowerConfig: Codable, Sendable, Equatable {
    public var width: Int
    public var layers: Int
    public var heads: Int
    public var mlpWidth: Int
    public var activation: Activation
    public var layerNormEpsilon: Float

    public init(width: Int, layers: Int, heads: Int, mlpWidth: Int, activation: Activation, layerNormEpsilon: Float = 1e-5) {
        self.width = width; self.layers = layers; self.heads = heads; self.mlpWidth = mlpWidth
        self.activation = activation; self.layerNormEpsilon = layerNormEpsilon
    }
}

/// A CLIP model's architecture: any width, depth, head count, patch and image size.
public struct CLIPConfig: Codable, Sendable, Equatable {
    public var vision: TowerConfig
    public var patchSize: Int
    public var imageSize: Int
    public var text: TowerConfig
    public var vocabularySize: Int
    public var contextLength: Int
    public var embedDim: Int

    public var gridSize: Int { imageSize / patchSize }
    public var visionTokens: Int { gridSize * gridSize + 1 }

    public init(vision: TowerConfig, patchSize: Int, imageSize: Int, text: TowerConfig,
                vocabularySize: Int, contextLength: Int, embedDim: Int) {
        self.vision = vision; self.patchSize = patchSize; self.imageSize = imageSize; self.text = text
        self.vocabularySize = vocabularySize; self.contextLength = contextLength; self.embedDim = embedDim
    }

    /// Checks internal consistency (positive sizes, heads dividing widths, patches tiling the image).
    public func validate(source: String) throws(CLIPError) {
        for (name, t) in [("vision", vision), ("text", text)] {
            guard t.width > 0, t.layers > 0, t.heads > 0, t.mlpWidth > 0, t.width % t.heads == 0 else {
                throw .invalidConfig(source, "\(name) tower: width \(t.width), \(t.layers) layers, \(t.heads) heads, MLP \(t.mlpWidth) is not a valid transformer")
            }
        }
        guard patchSize > 0, imageSize > 0, imageSize % patchSize == 0 else {
            throw .invalidConfig(source, "image size \(imageSize) is not a multiple of patch size \(patchSize)")
        }
        guard vocabularySize > 0, contextLength > 1, embedDim > 0 else {
            throw .invalidConfig(source, "vocabulary \(vocabularySize), context \(contextLength), embedding \(embedDim) must be positive")
        }
    }

    /// ViT-B/16 as released by OpenAI.
    public static let vitB16 = CLIPConfig(
        vision: TowerConfig(width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGELU),
        patchSize: 16, imageSize: 224,
        text: TowerConfig(width: 512, layers: 12, heads: 8, mlpWidth: 2048, activation: .quickGELU),
        vocabularySize: 49408, contextLength: 77, embedDim: 512)

    /// ViT-B/32 as released by OpenAI.
    public static let vitB32: CLIPConfig = {
        var c = vitB16
        c.patchSize = 32
        return c
    }()

    /// ViT-L/14 as released by OpenAI.
    public static let vitL14 = CLIPConfig(
        vision: TowerConfig(width: 1024, layers: 24, heads: 16, mlpWidth: 4096, activation: .quickGELU),
        patchSize: 14, imageSize: 224,
        text: TowerConfig(width: 768, layers: 12, heads: 12, mlpWidth: 3072, activation: .quickGELU),
        vocabularySize: 49408, contextLength: 77, embedDim: 768)

    /// Named architectures for benchmarks and random-weight models.
    public static func named(_ name: String) -> CLIPConfig? {
        switch name.lowercased() {
        case "vit-b-16", "vit-b/16": vitB16
        case "vit-b-32", "vit-b/32": vitB32
        case "vit-l-14", "vit-l/14": vitL14
        default: nil
        }
    }
}
