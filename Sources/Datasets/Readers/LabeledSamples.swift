// The result of every reader: ids, labels, class names and where the sample content lives.

import Foundation

/// Where the samples of a `LabeledSamples` come from.
public enum SampleContent: Sendable, Equatable {
    /// All images decoded in memory (IDX, CIFAR).
    case pixels(RawImageBatch)
    /// One encoded image file per sample (folder datasets); `urls[i]` belongs to sample `i`.
    case files([URL])
}

/// The samples of one split of one dataset, in a deterministic order.
///
/// Parallel arrays: `ids[i]`, `labels[i]` and the `i`-th image of `content` describe sample `i`.
/// Folder datasets are ordered by the byte-wise order of their ids (paths relative to the root);
/// raw-pixel datasets keep the order of the files (CIFAR `data_batch_1` … `data_batch_5`, MNIST file order).
public struct LabeledSamples: Sendable, Equatable {
    /// Short dataset key, e.g. "cifar100", "fashion-mnist", "imagenet100", "imagenet_r", "tinyimagenet", "cub200".
    public var dataset: String
    /// The split read, or nil for a generic image folder without split information.
    public var split: DatasetSplit?
    public var ids: [String]
    public var labels: [Int]
    /// Name of label `i` at index `i` (all classes of the dataset, not only those present), when known.
    public var classNames: [String]?
    /// CIFAR-100 superclass label (0..<20) of each sample; nil elsewhere.
    public var coarseLabels: [Int]?
    public var content: SampleContent
    /// The file, archive or folder the samples were read from.
    public var source: URL

    public init(dataset: String, split: DatasetSplit?, ids: [String], labels: [Int], classNames: [String]?,
                coarseLabels: [Int]? = nil, content: SampleContent, source: URL) {
        self.dataset = dataset
        self.split = split
        self.ids = ids
        self.labels = labels
        self.classNames = classNames
        self.coarseLabels = coarseLabels
        self.content = content
        self.source = source
    }

    public var count: Int { ids.count }

    /// Number of classes: `classNames.count` when known, otherwise `max(label) + 1`.
    public var classCount: Int { classNames?.count ?? ((labels.max() ?? -1) + 1) }

    /// Sample `index` with its content (pixels are copied out of the batch).
    public func sample(at index: Int) -> DatasetSample {
        let content: DatasetSample.Content
        switch self.content {
        case let .pixels(batch):
            content = .pixels(width: batch.width, height: batch.height, channels: batch.channels,
                              bytes: Array(batch.image(at: index)))
        case let .files(urls):
            content = .file(urls[index])
        }
        return DatasetSample(id: ids[index], label: labels[index], content: content)
    }

    /// The file of sample `index`, or nil for raw-pixel datasets.
    public func fileURL(at index: Int) -> URL? {
        if case let .files(urls) = content { return urls[index] }
        return nil
    }

    /// Indices of the samples whose label is in `wanted`, in order.
    public func indices(withLabels wanted: Set<Int>) -> [Int] {
        labels.indices.filter { wanted.contains(labels[$0]) }
    }

    /// A new value holding the samples at `indices`, in that order (class names are kept whole).
    public func subset(_ indices: [Int]) -> LabeledSamples {
        let newContent: SampleContent
        switch content {
        case let .pixels(batch): newContent = .pixels(batch.subset(indices))
        case let .files(urls): newContent = .files(indices.map { urls[$0] })
        }
        return LabeledSamples(dataset: dataset, split: split, ids: indices.map { ids[$0] },
                              labels: indices.map { labels[$0] }, classNames: classNames,
                              coarseLabels: coarseLabels.map { c in indices.map { c[$0] } },
                              content: newContent, source: source)
    }
}
