// Helpers shared by the test targets (one copy instead of one per target): fixture folders, the clipcl binary of
// the configuration under test, running a program, and the interop interpreter with CI's "no silent skip" rule.
import Foundation

public enum TestSupport {
    /// Tests/Fixtures.
    public static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    /// The repository (the folder holding README.md, Tests/ and tools/).
    public static let repositoryRoot = fixtures.deletingLastPathComponent().deletingLastPathComponent()

    /// The inputs kept under Tests/Fixtures/fuzz/<target>. A missing or empty folder throws: a regression test must
    /// not pass by finding nothing.
    public static func fuzzInputs(_ target: String) throws -> [URL] {
        let dir = fixtures.appendingPathComponent("fuzz/" + target)
        let files = try FileManager.default.contentsOfDirectory(at: dir, includingPropertiesForKeys: nil)
            .sorted { $0.lastPathComponent < $1.lastPathComponent }
        guard !files.isEmpty else { throw TestSupportError("no fuzz inputs in \(dir.path)") }
        return files
    }

    /// The clipcl executable built with this test bundle (`.build/<configuration>/clipcl`, next to the
    /// `.xctest` bundle), so a test never runs a stale binary of another configuration.
    public static let clipcl: URL = {
        var dir = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        while dir.pathComponents.count > 1 && !dir.lastPathComponent.hasSuffix(".xctest") { dir.deleteLastPathComponent() }
        return dir.deletingLastPathComponent().appendingPathComponent("clipcl")
    }()

    /// Python statements that make torchvision importable next to a CPU-only torch (tools/torchvision_compat.py: the
    /// interop venv's torchvision is PyPI's CUDA build); transformers and open_clip import torchvision when present.
    public static let torchvisionShim = "import sys; sys.path.insert(0, '\(repositoryRoot.appendingPathComponent("tools").path)'); "
        + "import torchvision_compat; torchvision_compat.import_torchvision()"

    /// `CLIPCL_REQUIRE_INTEROP=1` (set by .ci/run): an interop test without its interpreter fails instead of skipping.
    public static let interopRequired = ProcessInfo.processInfo.environment["CLIPCL_REQUIRE_INTEROP"] == "1"

    /// An interpreter that can run `import <modules>` (then the statements `after`): `$CLIPCL_PYTHON` when set (only
    /// it: a broken venv must not be hidden by another interpreter), else python3 on the PATH; nil when there is none.
    public static func python(importing modules: String, after: String = "") -> String? {
        let env = ProcessInfo.processInfo.environment
        let candidate = env["CLIPCL_PYTHON"] ?? "/usr/bin/python3"
        guard !candidate.isEmpty, let r = try? run(candidate, ["-c", "import " + modules + (after.isEmpty ? "" : "; " + after)]),
              r.status == 0 else { return nil }
        return candidate
    }

    /// Runs a program to its end with extra environment variables; returns its status, stdout and stderr
    /// (stderr goes through a file, so neither pipe can fill up and block the child).
    @discardableResult
    public static func run(_ executable: String, _ args: [String], environment: [String: String] = [:]) throws
        -> (status: Int32, stdout: String, stderr: String)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = args
        p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let errFile = FileManager.default.temporaryDirectory.appendingPathComponent("clipcl-test-\(UUID().uuidString).err")
        FileManager.default.createFile(atPath: errFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: errFile) }
        let out = Pipe()
        p.standardOutput = out
        p.standardError = try FileHandle(forWritingTo: errFile)
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self), (try? String(contentsOf: errFile, encoding: .utf8)) ?? "")
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
