// Accumulates (id, label, file) triples for folder datasets and sorts them into a `LabeledSamples`.

import Foundation

struct FolderSampleList {
    private var ids: [String] = []
    private var labels: [Int] = []
    private var urls: [URL] = []

    mutating func add(id: String, label: Int, url: URL) {
        ids.append(id)
        labels.append(label)
        urls.append(url)
    }

    var isEmpty: Bool { ids.isEmpty }

    /// Samples in byte-wise order of their ids. Throws `DatasetError.empty` naming `source` when nothing was added.
    func finish(dataset: String, split: DatasetSplit?, classNames: [String]?, source: URL,
                emptyWhat: String) throws -> LabeledSamples {
        guard !ids.isEmpty else { throw DatasetError.empty(path: source.path, what: emptyWhat) }
        // Readers usually add in order already; check that in one pass before sorting.
        let alreadySorted = zip(ids, ids.dropFirst()).allSatisfy { !ReaderFiles.byteOrderLess($1, $0) }
        if alreadySorted {
            return LabeledSamples(dataset: dataset, split: split, ids: ids, labels: labels, classNames: classNames,
                                  content: .files(urls), source: source)
        }
        let order = ids.indices.sorted { ReaderFiles.byteOrderLess(ids[$0], ids[$1]) }
        return LabeledSamples(dataset: dataset, split: split, ids: order.map { ids[$0] },
                              labels: order.map { labels[$0] }, classNames: classNames,
                              content: .files(order.map { urls[$0] }), source: source)
    }
}
