/// Errors of model loading and use. Each message is one line naming the file or tensor involved.
public enum CLIPError: Error, CustomStringConvertible, Sendable {
    case invalidConfig(String, String)
    case missingTensor(file: String, name: String, expected: [Int])
    case wrongShape(file: String, name: String, expected: [Int], actual: [Int])
    case unsupportedCheckpoint(String, String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .invalidConfig(source, reason): "invalid model config \(source): \(reason)"
        case let .missingTensor(file, name, expected): "\(file): missing tensor '\(name)' (expected shape \(expected))"
        case let .wrongShape(file, name, expected, actual):
            "\(file): tensor '\(name)' has shape \(actual), expected \(expected)"
        case let .unsupportedCheckpoint(path, reason): "\(path): \(reason)"
        case let .invalidInput(reason): reason
        }
    }
}
