/// A pickle the restricted unpickler refuses. `description` is one line starting with the pickle's name
/// (a file path, or `<file>/<archive>/data.pkl` inside a PyTorch checkpoint) and the byte offset involved.
public enum PickleError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The pickle uses an opcode the restricted unpickler does not interpret.
    case opcodeRefused(path: String, opcode: UInt8, name: String, offset: Int)
    /// The pickle references a global outside the vocabulary's allow-list (e.g. `os.system`).
    case globalRefused(path: String, module: String, name: String, offset: Int)
    /// Any other problem (stack underflow, wrong argument types, bad memo index, a call that may not be made, ...).
    case malformed(path: String, reason: String, offset: Int)

    public var description: String {
        switch self {
        case let .opcodeRefused(path, opcode, name, offset):
            "\(path): pickle opcode \(name) (0x\(String(opcode, radix: 16, uppercase: true).leftPadded(2))) at byte \(offset) is not allowed"
        case let .globalRefused(path, module, name, offset):
            "\(path): pickle global \(module).\(name) at byte \(offset) is not allowed"
        case let .malformed(path, reason, offset):
            "\(path): malformed pickle at byte \(offset): \(reason)"
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
