// One sample: pixels or an image file, its label and a stable id.

import Foundation

/// A single labelled sample as handed to the image pipeline.
public struct DatasetSample: Sendable, Equatable {
    public enum Content: Sendable, Equatable {
        /// Decoded 8-bit pixels, HWC interleaved (see `RawImageBatch`). Used by IDX and CIFAR.
        case pixels(width: Int, height: Int, channels: Int, bytes: [UInt8])
        /// An encoded image file (JPEG/PNG/...) to be decoded by the caller. Used by folder datasets.
        case file(URL)
    }

    /// Stable identifier: `"<split>/<index, 5 digits>"` for IDX/CIFAR (index within the split, in file order),
    /// the path relative to the dataset root for folder datasets.
    public var id: String
    public var label: Int
    public var content: Content

    public init(id: String, label: Int, content: Content) {
        self.id = id
        self.label = label
        self.content = content
    }
}
