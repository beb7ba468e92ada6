// Which half of a dataset to read.

/// The two splits every reader understands. `test` means the evaluation split the benchmarks use:
/// ImageNet `val/`, TinyImageNet `val/`, CIFAR `test_batch` / `test`, MNIST `t10k-*`.
public enum DatasetSplit: String, Sendable, Hashable, CaseIterable, Codable {
    case train
    case test
}
