import Foundation
import TensorKit

extension LoadedCLIP {
    /// Preprocessed pixels [N, 3, S, S] for image files, in the model's preprocessing.
    public func pixels(for urls: [URL]) throws -> Tensor {
        let s = preprocess.cropHeight
        var storage: [Float] = []
        storage.reserveCapacity(urls.count * 3 * s * preprocess.cropWidth)
        for url in urls {
            let image = try ImageDecoder.decode(contentsOf: url)
            storage.append(contentsOf: try ImagePreprocessor.pixels(image, config: preprocess))
        }
        return try Tensor(shape: [urls.count, 3, s, preprocess.cropWidth], storage: storage)
    }

    /// Un-normalised image embeddings [N, embed] for image files, encoded `batchSize` at a time.
    /// `progress` receives the number of images done.
    public func encodeImages(_ urls: [URL], batchSize: Int = 8, progress: ((Int) -> Void)? = nil) throws -> Tensor {
        guard batchSize > 0 else { throw CLIPError.invalidInput("batch size must be positive") }
        var rows: [Float] = []
        var done = 0
        for start in stride(from: 0, to: urls.count, by: batchSize) {
            let batch = Array(urls[start..<min(start + batchSize, urls.count)])
            let e = try model.encodeImages(try pixels(for: batch))
            rows.append(contentsOf: e.storage)
            done += batch.count
            progress?(done)
        }
        return try Tensor(shape: [urls.count, model.config.embedDim], storage: rows)
    }

    /// Token ids, one row of the model's context length per text (truncating over-long texts).
    public func tokenize(_ texts: [String]) throws -> [[Int32]] {
        try tokenizer.tokenize(texts, contextLength: contextLength, truncation: .truncate)
    }

    /// Un-normalised text embeddings [N, embed].
    public func encodeTexts(_ texts: [String], batchSize: Int = 256) throws -> Tensor {
        let ids = try tokenize(texts)
        var rows: [Float] = []
        for start in stride(from: 0, to: ids.count, by: batchSize) {
            rows.append(contentsOf: try model.encodeTexts(Array(ids[start..<min(start + batchSize, ids.count)])).storage)
        }
        return try Tensor(shape: [texts.count, model.config.embedDim], storage: rows)
    }

    /// CLIP's zero-shot classifier: for every class, embed each template filled with its name,
    /// L2-normalise, average over templates and normalise again. Returns [classes, embed] plus
    /// the per-template normalised embeddings [templates, classes, embed].
    public func zeroShotClassifier(classNames: [String], templates: [String]) throws -> (classifier: Tensor, perTemplate: Tensor) {
        guard !classNames.isEmpty, !templates.isEmpty else { throw CLIPError.invalidInput("zero-shot needs at least one class and one template") }
        for t in templates where !t.contains("{}") {
            throw CLIPError.invalidInput("template '\(t)' has no '{}' placeholder for the class name")
        }
        let e = model.config.embedDim
        var perTemplate: [Float] = []
        var sum = [Float](repeating: 0, count: classNames.count * e)
        for template in templates {
            let texts = classNames.map { template.replacingOccurrences(of: "{}", with: $0) }
            let normalized = try encodeTexts(texts).l2Normalized()
            perTemplate.append(contentsOf: normalized.storage)
            for i in 0..<sum.count { sum[i] += normalized.storage[i] }
        }
        let classifier = try Tensor(shape: [classNames.count, e], storage: sum).l2Normalized()
        return (classifier, try Tensor(shape: [templates.count, classNames.count, e], storage: perTemplate))
    }
}
