#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An error reading or writing a safetensors file. `description` is one line that starts with the
/// file path and names the tensor where one is involved, e.g.
/// `/ckpt/model.safetensors: unsupported dtype F8_E4M3 for tensor "w"`.
public struct SafeTensorsError: Error, CustomStringConvertible, Equatable, Sendable {
    public enum Kind: String, Sendable {
        /// open/fstat/mmap/write/fsync/rename failed, or the path is not a regular file.
        case io
        /// The file is shorter than the 8-byte header length.
        case fileTooShort
        /// The header length exceeds the 100 MB limit of the reference implementation.
        case headerTooLarge
        /// The header length points past the end of the file.
        case headerOutOfBounds
        /// The header is not UTF-8, not JSON, or has JSON of the wrong types.
        case invalidHeader
        /// A dtype string this library does not know.
        case unsupportedDType
        /// Negative dimension or an element/byte count that overflows.
        case invalidShape
        /// `data_offsets` malformed, reversed, or past the end of the data buffer.
        case invalidOffsets
        /// `end − begin` differs from elements × dtype size.
        case byteCountMismatch
        /// Two tensors' byte ranges overlap.
        case overlappingRanges
        /// The same tensor name appears twice.
        case duplicateName
        /// The tensor's dtype cannot be converted by the requested accessor.
        case wrongDType
        /// No tensor of that name.
        case tensorNotFound
        /// A writer argument is invalid (bad name, dtype or byte count).
        case invalidArgument
    }

    public let kind: Kind
    /// The file path (or `<memory>` for a writer not yet bound to a file).
    public let file: String
    /// The tensor concerned, if any.
    public let tensor: String?
    /// What went wrong; names the tensor itself where relevant.
    public let message: String

    public init(_ kind: Kind, file: String, tensor: String? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.tensor = tensor
        self.message = message
    }

    public var description: String {
        // Keep it one line even if a name or message carries a newline.
        "\(file): \(message)".replacingNewlines()
    }
}

extension SafeTensorsError {
    /// A tensor name in quotes, for messages.
    static func quoted(_ name: String) -> String { "\"\(name)\"" }

    /// The text of the current `errno`.
    static func errnoText() -> String { String(cString: strerror(errno)) }
}

extension String {
    fileprivate func replacingNewlines() -> String {
        guard contains(where: \.isNewline) else { return self }
        return String(map { $0.isNewline ? " " : $0 })
    }
}
