import Datasets
import Foundation
import TensorKit

extension FeatureSet {
    /// Reads a feature cache: both splits (checksums verified) and the class-text embeddings.
    public init(cache: FeatureCache) throws {
        let train = try cache.split(.train)
        let test = try cache.split(.test)
        self.init(trainFeatures: train.features, trainLabels: train.labels, testFeatures: test.features,
                  testLabels: test.labels, classNames: cache.meta.classNames,
                  textFeatures: try cache.textFeatures().classifier, logitScale: cache.meta.logitScale)
    }
}

extension ExperimentConfig {
    /// The class order this experiment uses for a cache.
    public func resolveClassOrder(cache: FeatureCache) throws -> [Int] {
        let n = cache.meta.classNames.count
        switch classOrder {
        case .published: return cache.meta.classOrder ?? Array(0..<n)
        case let .seeded(seed): return Scenario.seededOrder(classCount: n, seed: seed)
        case let .explicit(list):
            guard list.count == n, Set(list) == Set(0..<n) else {
                throw ContinualError.invalidConfig(key: "classOrder", reason: "the list must be a permutation of 0..<\(n)")
            }
            return list
        }
    }
}
