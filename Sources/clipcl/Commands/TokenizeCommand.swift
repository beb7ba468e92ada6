import CLIP
import Foundation

/// `clipcl tokenize`: token ids, one row of context length per text.
enum TokenizeCommand: Command {
    static let name = "tokenize"
    static let summary = "Print CLIP token ids for texts (one row of context length each)."
    static let usage = "clipcl tokenize --model M [--json] TEXT..."
    static let options: [OptionSpec] = modelOptions + [.flag("json", "Print {\"input_ids\": [[...]]} on stdout")]

    static func run(_ args: ParsedArguments) throws {
        guard !args.positionals.isEmpty else { throw UsageError(message: "give at least one TEXT", command: name) }
        let clip = try loadModel(args)
        let ids = try clip.tokenize(args.positionals)
        if args.flag("json") {
            try printJSON(["input_ids": ids])
        } else {
            for row in ids { print(row.map(String.init).joined(separator: " ")) }
        }
    }
}
