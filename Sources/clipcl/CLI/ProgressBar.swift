import Foundation

/// A progress bar on standard error: redrawn in place on a terminal, plain lines (at most one
/// every few seconds) when stderr is a file or pipe, so logs stay readable.
final class ProgressBar: @unchecked Sendable {
    private let label: String
    private var total: Int
    private let unit: String
    /// Counts are bytes: shown as MB and MB/s.
    private let bytes: Bool
    /// Draw nothing unless stderr is a terminal.
    private let terminalOnly: Bool
    private let isTTY = isatty(STDERR_FILENO) == 1
    private let start = Date()
    private var lastDraw = Date.distantPast
    private var done = 0
    private let lock = NSLock()

    init(_ label: String, total: Int, unit: String = "items", bytes: Bool = false, terminalOnly: Bool = false) {
        self.label = label
        self.total = total
        self.unit = unit
        self.bytes = bytes
        self.terminalOnly = terminalOnly
    }

    /// Sets the number of finished items, and the total when it becomes known (thread-safe).
    func update(_ done: Int, total newTotal: Int? = nil) {
        lock.lock()
        defer { lock.unlock() }
        self.done = done
        if let newTotal { total = newTotal }
        guard isTTY || !terminalOnly else { return }
        let now = Date()
        let interval = isTTY ? 0.1 : 5.0
        guard now.timeIntervalSince(lastDraw) >= interval || done >= total else { return }
        lastDraw = now
        draw(now)
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard isTTY || !terminalOnly else { return }
        draw(Date())
        if isTTY { FileHandle.standardError.write("\n".data(using: .utf8)!) }
    }

    private func draw(_ now: Date) {
        let elapsed = max(now.timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let remaining = rate > 0 ? Double(total - done) / rate : .infinity
        let fraction = total > 0 ? Double(done) / Double(total) : 1
        let stats = bytes
            ? String(format: "%.1f/%.1f MB %.1f MB/s ETA ", Double(done) / 1e6, Double(total) / 1e6, rate / 1e6) + formatDuration(remaining)
            : "\(done)/\(total) " + String(format: "%.1f", rate) + " \(unit)/s ETA " + formatDuration(remaining)
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

/// Download progress of hub files: one byte-counting bar per file, on a terminal only (quiet in logs).
final class DownloadProgress: @unchecked Sendable {
    private let lock = NSLock()
    private var current: (path: String, bar: ProgressBar)?

    func report(_ path: String, _ done: Int64, _ total: Int64?) {
        let bar: ProgressBar = lock.withLock {
            if let current, current.path == path { return current.bar }
            current?.bar.finish()
            let bar = ProgressBar("download " + path, total: Int(total ?? 0), bytes: true, terminalOnly: true)
            current = (path, bar)
            return bar
        }
        bar.update(Int(done), total: total.map(Int.init))
        if let total, done >= total {
            lock.withLock {
                if current?.path == path { current = nil }
            }
            bar.finish()
        }
    }
}
