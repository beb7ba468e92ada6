import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

// The URLSession plumbing of `HubClient`: a HEAD that does not follow redirects, and a GET streamed into a
// partial file.

/// Result of the HEAD request, written by the completion handler, read after the semaphore.
final class HeadResult: @unchecked Sendable {
    private let lock = NSLock()
    private var response: HTTPURLResponse?
    private var error: Error?

    func set(_ response: HTTPURLResponse?, _ error: Error?) { lock.withLock { (self.response, self.error) = (response, error) } }
    func get() -> (HTTPURLResponse?, Error?) { lock.withLock { (response, error) } }
}

/// Stops redirects, so the HEAD request sees the hub's own response (and its `X-Linked-*` headers).
final class NoRedirectDelegate: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        completionHandler(nil)
    }
}

enum DownloadFailure: Error, CustomStringConvertible {
    case notHTTP
    case rangeMismatch(expected: Int64, got: String?)
    case write(String)

    var description: String {
        switch self {
        case .notHTTP: "not an HTTP response"
        case let .rangeMismatch(expected, got):
            "server resumed at the wrong offset (asked for byte \(expected), got Content-Range \(got ?? "none")); partial file deleted"
        case let .write(reason): "cannot write: \(reason)"
        }
    }
}

/// Streams a GET response into the partial file. Follows redirects, keeping the `Range`
/// header and sending `Authorization` only to the original scheme, host and port (never to a CDN).
final class DownloadDelegate: NSObject, URLSessionDataDelegate, @unchecked Sendable {
    struct Result {
        var response: HTTPURLResponse?
        var handle: FileHandle?
        var bytesOnDisk: Int64
        var total: Int64?
        var restarted: Bool
        var transportError: Error?
        var localError: DownloadFailure?
    }

    let done = DispatchSemaphore(value: 0)
    private let lock = NSLock()
    private let partial: URL
    private let resumeOffset: Int64
    private let keptHeaders: [String: String]
    private let authorization: String?
    /// scheme://host:port of the first request: `Authorization` goes only there.
    private let origin: String?
    private let report: (@Sendable (Int64, Int64?) -> Void)?
    private var state: Result
    private var lastReport: Int64 = 0
    private static let reportEvery: Int64 = 1 << 20

    init(partial: URL, resumeOffset: Int64, keptHeaders: [String: String], authorization: String?,
         origin: String?, report: (@Sendable (Int64, Int64?) -> Void)?) {
        self.partial = partial
        self.resumeOffset = resumeOffset
        self.keptHeaders = keptHeaders
        self.authorization = authorization
        self.origin = origin
        self.report = report
        state = Result(bytesOnDisk: resumeOffset, restarted: false)
    }

    func result() -> Result { lock.withLock { state } }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        var next = request
        for (k, v) in keptHeaders { next.setValue(v, forHTTPHeaderField: k) }
        if let authorization, next.url.map(HubClient.origin) == origin {
            next.setValue(authorization, forHTTPHeaderField: "Authorization")
        } else {
            next.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(next)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
                    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void) {
        let disposition: URLSession.ResponseDisposition = lock.withLock {
            guard let http = response as? HTTPURLResponse else {
                state.localError = .notHTTP
                return .cancel
            }
            state.response = http
            // Error statuses: no body needed, the status says it all.
            guard (200..<300).contains(http.statusCode) else { return .cancel }
            do {
                let handle = try FileHandle(forWritingTo: partial)
                state.handle = handle
                if http.statusCode == 206 {
                    let range = http.value(forHTTPHeaderField: "Content-Range")
                    guard let parsed = range.flatMap(Self.parseContentRange), parsed.start == resumeOffset else {
                        state.localError = .rangeMismatch(expected: resumeOffset, got: range)
                        return .cancel
                    }
                    try handle.truncate(atOffset: UInt64(resumeOffset))
                    state.total = parsed.total
                } else {
                    // A full answer (also when a resume was asked for and the server ignored the Range): start over.
                    try handle.truncate(atOffset: 0)
                    state.bytesOnDisk = 0
                    state.restarted = resumeOffset > 0
                    state.total = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
                }
            } catch {
                state.localError = .write(HubClient.describe(error))
                return .cancel
            }
            lastReport = state.bytesOnDisk
            return .allow
        }
        if disposition == .allow {
            let (done, total) = lock.withLock { (state.bytesOnDisk, state.total) }
            report?(done, total)
        } else {
            // FoundationNetworking ignores the disposition passed to the completion handler (the body keeps
            // coming), so stop the transfer explicitly; the recorded status or error decides what happens next.
            dataTask.cancel()
        }
        completionHandler(disposition)
    }

    func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
        let progress: (Int64, Int64?)? = lock.withLock {
            guard state.localError == nil, let handle = state.handle else { return nil }
            do { try handle.write(contentsOf: data) } catch {
                state.localError = .write(HubClient.describe(error))
                dataTask.cancel()
                return nil
            }
            state.bytesOnDisk += Int64(data.count)
            guard state.bytesOnDisk - lastReport >= Self.reportEvery else { return nil }
            lastReport = state.bytesOnDisk
            return (state.bytesOnDisk, state.total)
        }
        if let (done, total) = progress { report?(done, total) }
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, didCompleteWithError error: Error?) {
        lock.withLock { state.transportError = error }
        done.signal()
    }

    /// `bytes <start>-<end>/<total or *>`.
    static func parseContentRange(_ value: String) -> (start: Int64, end: Int64, total: Int64?)? {
        let v = value.trimmingCharacters(in: .whitespaces)
        guard v.lowercased().hasPrefix("bytes ") else { return nil }
        let spec = v.dropFirst(6).split(separator: "/", maxSplits: 1)
        guard spec.count == 2 else { return nil }
        let bounds = spec[0].split(separator: "-", maxSplits: 1)
        guard bounds.count == 2, let start = Int64(bounds[0].trimmingCharacters(in: .whitespaces)),
              let end = Int64(bounds[1].trimmingCharacters(in: .whitespaces)) else { return nil }
        return (start, end, Int64(spec[1].trimmingCharacters(in: .whitespaces)))
    }
}
