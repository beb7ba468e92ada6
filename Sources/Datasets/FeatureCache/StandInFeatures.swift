import Foundation
import TensorKit

/// Stand-in "CLIP features" from a dataset's real pixels, for measuring method defaults where no pre-trained CLIP can
/// be loaded (random CLIP weights give features that carry no class information at all).
///
/// Image feature = a fixed random projection of the raw pixels (in [0, 1], not centred, so that, as with CLIP, all
/// embeddings share a common direction), scaled to a mean norm of 10 (about a CLIP ViT-B/16 embedding's);
/// "text" feature of class c = the L2-normalised mean of the L2-normalised training features of c. The projection is
/// R[d, p] ~ N(0, 1) from `RandomGenerator(seed:)`. This is a proxy, not CLIP: it keeps the class structure of real
/// data, so methods compare in a meaningful way, but no number measured on it is a CLIP result.
public enum StandInFeatures {
    public struct Result: Sendable {
        public var train: ImportSplit
        public var test: ImportSplit
        /// [C, D], L2-normalised.
        public var textFeatures: Tensor
        public var classNames: [String]
    }

    public static let template = "class mean of the stand-in training features (not a text embedding)"

    public static func make(train: LabeledSamples, test: LabeledSamples, classNames: [String], dimension: Int = 512,
                            seed: UInt64 = 0) throws -> Result {
        guard case let .pixels(trainBatch) = train.content, case let .pixels(testBatch) = test.content else {
            throw FeatureCacheError("", "stand-in features need a dataset held as pixels (IDX or CIFAR), not image files")
        }
        guard trainBatch.bytesPerImage == testBatch.bytesPerImage, dimension >= 1 else {
            throw FeatureCacheError("", "train and test images differ in size, or the dimension is not positive")
        }
        let p = trainBatch.bytesPerImage
        var rng = RandomGenerator(seed: seed)
        let projection = Tensor.normal(shape: [dimension, p], using: &rng)
        func project(_ batch: RawImageBatch) throws -> Tensor {
            let x = Tensor(unchecked: [batch.count, p], storage: batch.pixels.map { Float($0) / 255 })
            return try Tensor.matmul(x, projection, transposeB: true)
        }
        var trainX = try project(trainBatch), testX = try project(testBatch)
        let norms = trainX.rowNorms()
        let scale = 10 / max(norms.reduce(0, +) / Float(max(norms.count, 1)), .leastNormalMagnitude)
        trainX = trainX.scaled(by: scale)
        testX = testX.scaled(by: scale)

        let c = classNames.count
        var sums = [Float](repeating: 0, count: c * dimension)
        let unit = try trainX.l2Normalized()
        for (i, label) in train.labels.enumerated() {
            guard label >= 0 && label < c else { throw FeatureCacheError("", "label \(label) outside the \(c) class names") }
            for j in 0..<dimension { sums[label * dimension + j] += unit.storage[i * dimension + j] }
        }
        let text = try Tensor(unchecked: [c, dimension], storage: sums).l2Normalized()
        return Result(train: ImportSplit(features: trainX, labels: train.labels, ids: train.ids),
                      test: ImportSplit(features: testX, labels: test.labels, ids: test.ids),
                      textFeatures: text, classNames: classNames)
    }
}
