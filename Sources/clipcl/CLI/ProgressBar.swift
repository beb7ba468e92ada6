import Foundation

/// A progress bar on standard error: redrawn in place on a terminal, plain lines (at most one
/// every few seconds) when stderr is a file or pipe, so logs stay readable.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private let total: Int
    private let unit: String
    private let isTTY = isatty(STDERR_FILENO) == 1
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var done = 0
    private let lock = NSLock()

    init(_ label: String, total: Int, unit: String = "items") {
        self.label = label
        self.total = total
        self.unit = unit
    }

    /// Sets the number of finished items (thread-safe).
    func update(_ done: Int) {
        lock.lock()
        defer { lock.unlock() }
        self.done = done
        let now = Date()
        let interval = isTTY ? 0.1 : 5.0
        guard now.timeIntervalSince(lastDraw) >= interval || done >= total else { return }
        lastDraw = now
        draw(now)
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        draw(Date())
        if isTTY { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }

    private func draw(_ now: Date) {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : .infinity
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let stats = "\(done)/\(total) " + String(format: "%.1f", rate) + " \(unit)/s ETA " + formatDuration(remaining)
        if isTTY {
            let width = 28
            let filled = Int(fraction * Double(width))
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            FileHandle.standardError.write("\r\(label) [\(bar)] \(stats)\u{1B}[K".data(using: .utf8)!)
        } else {
            FileHandle.standardError.write("\(label): \(String(format: "%.0f", fraction * 100))% \(stats)\n".data(using: .utf8)!)
        }
    }
}

func formatDuration(_ s: Double) -> String {
    guard s.isFinite else { return "--:--" }
    let t = Int(s.rounded())
    return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
}
