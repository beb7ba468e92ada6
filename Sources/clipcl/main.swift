import CKernels
import Foundation
import TensorKit

/// Entry point: dispatches to a subcommand, prints `error: …` on failure and exits non-zero.
let commands: [any Command.Type] = [
    TokenizeCommand.self, PreprocessCommand.self, EncodeCommand.self, ZeroShotCommand.self,
    ExtractCommand.self, FeaturesCommand.self, RunCommand.self, SweepCommand.self, DemoCommand.self,
    LearnCommand.self, PredictCommand.self, ExportCommand.self, BenchCommand.self,
]

@MainActor func topLevelHelp() -> String {
    var lines = [
        "clipcl — class-incremental learning with frozen CLIP encoders",
        "",
        "USAGE: clipcl <command> [options]   (clipcl <command> --help for details)",
        "",
        "COMMANDS:",
    ]
    for c in commands { lines.append("  " + c.name.padding(toLength: 12, withPad: " ", startingAt: 0) + c.summary) }
    return lines.joined(separator: "\n")
}

/// OpenBLAS chooses its kernels when it is loaded, before `main`: when it fell back to pre-AVX2 kernels on a CPU
/// it does not know, run this program again with `OPENBLAS_CORETYPE` naming the family the CPU supports
/// (a user's own `OPENBLAS_CORETYPE` is never overridden; the second run has it set, so this happens once).
func rerunWithBetterBLASKernels() {
    guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil, let core = Parallelism.blasCoreOverride else { return }
    setenv("OPENBLAS_CORETYPE", core, 1)
    execv("/proc/self/exe", CommandLine.unsafeArgv)
    unsetenv("OPENBLAS_CORETYPE")  // execv failed: go on with the kernels we have
}

@MainActor func main() -> Int32 {
    rerunWithBetterBLASKernels()
    var argv = Array(CommandLine.arguments.dropFirst())
    guard let name = argv.first, name != "--help", name != "-h", name != "help" else {
        print(topLevelHelp())
        return argv.isEmpty ? 2 : 0
    }
    argv.removeFirst()
    guard let command = commands.first(where: { $0.name == name }) else {
        printError("error: unknown command '\(name)'\n\n" + topLevelHelp())
        return 2
    }
    do {
        let specs = command.options + commonOptions
        let args = try ArgumentParser.parse(argv, specs: specs, command: name)
        if args.flag("help") {
            print(ArgumentParser.help(usage: command.usage, summary: command.summary, specs: specs))
            return 0
        }
        try applyThreads(args)
        ck_keep_freed_memory()
        try command.run(args)
        return 0
    } catch let e as UsageError {
        printError("error: \(e.message)\n(see: clipcl \(e.command) --help)")
        return 2
    } catch {
        printError("error: \(error)")
        return 1
    }
}

exit(main())
