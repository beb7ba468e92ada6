/// A small command-line parser: `--name value`, `--name=value`, boolean `--flag`, repeatable
/// options and positionals. Unknown options and missing values are usage errors, never traps.

struct OptionSpec: Sendable {
    enum Kind: Sendable { case flag, single, repeated }
    let name: String
    let kind: Kind
    let valueName: String
    let help: String

    static func flag(_ name: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .flag, valueName: "", help: help)
    }
    static func option(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .single, valueName: valueName, help: help)
    }
    static func repeated(_ name: String, _ valueName: String, _ help: String) -> OptionSpec {
        OptionSpec(name: name, kind: .repeated, valueName: valueName, help: help)
    }
}

struct UsageError: Error, CustomStringConvertible {
    let message: String
    let command: String
    var description: String { message }
}

struct ParsedArguments {
    let command: String
    var flags: Set<String> = []
    var values: [String: [String]] = [:]
    var positionals: [String] = []

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func require(_ name: String) throws -> String {
        guard let v = string(name) else { throw UsageError(message: "missing required option --\(name)", command: command) }
        return v
    }

    func int(_ name: String, range: ClosedRange<Int>? = nil) throws -> Int? {
        guard let raw = string(name) else { return nil }
        guard let v = Int(raw) else { throw UsageError(message: "--\(name) expects an integer, got '\(raw)'", command: command) }
        if let range, !range.contains(v) {
            throw UsageError(message: "--\(name) must be in \(range.lowerBound)...\(range.upperBound), got \(v)", command: command)
        }
        return v
    }

    func double(_ name: String) throws -> Double? {
        guard let raw = string(name) else { return nil }
        guard let v = Double(raw), v.isFinite else {
            throw UsageError(message: "--\(name) expects a number, got '\(raw)'", command: command)
        }
        return v
    }
}

enum ArgumentParser {
    static func parse(_ args: [String], specs: [OptionSpec], command: String) throws -> ParsedArguments {
        var result = ParsedArguments(command: command)
        let byName = Dictionary(specs.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("--") || arg == "-" {
                result.positionals.append(arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            var name = String(arg.dropFirst(2))
            var inline: String? = nil
            if let eq = name.firstIndex(of: "=") {
                inline = String(name[name.index(after: eq)...])
                name = String(name[..<eq])
            }
            guard let spec = byName[name] else {
                throw UsageError(message: "unknown option --\(name)", command: command)
            }
            switch spec.kind {
            case .flag:
                guard inline == nil else { throw UsageError(message: "--\(name) takes no value", command: command) }
                result.flags.insert(name)
            case .single, .repeated:
                let value: String
                if let inline { value = inline } else {
                    guard i < args.count else {
                        throw UsageError(message: "--\(name) needs a value (\(spec.valueName))", command: command)
                    }
                    value = args[i]
                    i += 1
                }
                if spec.kind == .single { result.values[name] = [value] } else { result.values[name, default: []].append(value) }
            }
        }
        return result
    }

    static func help(usage: String, summary: String, specs: [OptionSpec]) -> String {
        var lines = [summary, "", "USAGE: \(usage)", ""]
        if !specs.isEmpty {
            lines.append("OPTIONS:")
            let labels = specs.map { s in "--\(s.name)" + (s.kind == .flag ? "" : " <\(s.valueName)>") + (s.kind == .repeated ? "..." : "") }
            let width = min(34, (labels.map(\.count).max() ?? 0) + 2)
            for (label, s) in zip(labels, specs) {
                let pad = label.count < width ? String(repeating: " ", count: width - label.count) : "  "
                lines.append("  \(label)\(pad)\(s.help)")
            }
        }
        return lines.joined(separator: "\n")
    }
}
