import Foundation
import TensorKit

/// One `clipcl` subcommand.
protocol Command {
    static var name: String { get }
    static var summary: String { get }
    static var usage: String { get }
    static var options: [OptionSpec] { get }
    static func run(_ args: ParsedArguments) throws
}

/// Options every command accepts.
let commonOptions: [OptionSpec] = [
    .option("threads", "N", "BLAS threads (default: $CLIPCL_THREADS, else all cores)"),
    .flag("help", "Show this help"),
]

/// Writes to standard error (progress, warnings, errors); results go to standard output.
func printError(_ s: String) {
    FileHandle.standardError.write((s + "\n").data(using: .utf8)!)
}

/// Encodes a value as pretty, key-sorted JSON on standard output.
func printJSON<T: Encodable>(_ value: T) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    print(String(decoding: try e.encode(value), as: UTF8.self))
}

func applyThreads(_ args: ParsedArguments) throws {
    if let n = try args.int("threads", range: 1...256) {
        try Parallelism.setThreads(n)
    } else {
        try Parallelism.configureFromEnvironment()
    }
}
