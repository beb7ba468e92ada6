import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
@testable import CLIP

/// A tiny blocking-socket HTTP/1.1 server on 127.0.0.1 (ephemeral port) that imitates the Hugging Face hub's
/// `resolve` endpoint for tests: HEAD and GET, `Range: bytes=N-`, `X-Linked-Size`/`X-Linked-Etag` for LFS files,
/// an optional 302 redirect to `/blobs/<sha256>` (like the hub's CDN redirect), a connection cut after K bytes on
/// the first GET, corrupted bodies, ignored ranges, an optional required token, a request log and 404 otherwise.
/// Every response closes its connection. Call `stop()` at the end of a test.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct File {
        var data: Data
        var sha256: String
        var lfs: Bool
        var redirect: Bool
        /// On the first GET of the body, send the full headers but only this many bytes, then close.
        var cutAfter: Int?
        /// Serve the body with some bytes flipped (same size, wrong sha256).
        var corrupt: Bool
        /// Answer range requests with the whole file (200), like a server without range support.
        var ignoreRange: Bool
    }

    struct Request: Sendable, CustomStringConvertible {
        var method: String
        var path: String
        /// Header names in lower case.
        var headers: [String: String]
        var description: String { "\(method) \(path) \(headers)" }
    }

    private let lock = NSLock()
    private var files: [String: File] = [:]
    private var log: [Request] = []
    private var cutDone: Set<String> = []
    private var token: String?
    private let listenFD: Int32
    private let acceptLoopDone = DispatchSemaphore(value: 0)
    private var stopped = false
    let port: UInt16

    var baseURL: URL { URL(string: "http://127.0.0.1:\(port)")! }

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LoopbackServerError("socket: " + String(cString: strerror(errno))) }
        var yes: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else {
            let reason = String(cString: strerror(errno))
            close(fd)
            throw LoopbackServerError("bind/listen: " + reason)
        }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        listenFD = fd
        port = UInt16(bigEndian: addr.sin_port)
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "LoopbackHTTPServer:\(port)"
        thread.start()
    }

    deinit { stop() }

    /// Stops accepting connections and waits for the accept loop to end.
    func stop() {
        let first: Bool = lock.withLock {
            defer { stopped = true }
            return !stopped
        }
        guard first else { return }
        // shutdown() wakes a thread blocked in accept() on Linux; close() alone does not.
        _ = shutdown(listenFD, Int32(SHUT_RDWR))
        acceptLoopDone.wait()
        close(listenFD)
    }

    // MARK: - Content and log

    func addFile(repo: String, path: String, revision: String = "main", data: Data, lfs: Bool = false,
                 redirect: Bool = false, cutAfter: Int? = nil, corrupt: Bool = false, ignoreRange: Bool = false) {
        let file = File(data: data, sha256: SHA256.hex(of: data), lfs: lfs, redirect: redirect, cutAfter: cutAfter,
                        corrupt: corrupt, ignoreRange: ignoreRange)
        lock.withLock { files["/\(repo)/resolve/\(revision)/\(path)"] = file }
    }

    /// Resolve requests without `Authorization: Bearer <token>` get 401 (like a gated repo).
    func requireToken(_ token: String?) { lock.withLock { self.token = token } }

    var requests: [Request] { lock.withLock { log } }
    func resetLog() { lock.withLock { log.removeAll() } }

    // MARK: - Serving

    private func acceptLoop() {
        defer { acceptLoopDone.signal() }
        while true {
            let client = accept(listenFD, nil, nil)
            if client < 0 {
                if errno == EINTR, !lock.withLock({ stopped }) { continue }
                return
            }
            if lock.withLock({ stopped }) {
                close(client)
                return
            }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            _ = setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let connection = Thread { [self] in handle(client) }
            connection.start()
        }
    }

    private func handle(_ fd: Int32) {
        defer {
            _ = shutdown(fd, Int32(SHUT_WR))
            var sink = [UInt8](repeating: 0, count: 512)
            while recv(fd, &sink, sink.count, 0) > 0 {}
            close(fd)
        }
        guard let request = readRequest(fd) else { return }
        lock.withLock { log.append(request) }
        respond(to: request, on: fd)
    }

    private func readRequest(_ fd: Int32) -> Request? {
        var buffer = [UInt8]()
        var chunk = [UInt8](repeating: 0, count: 4096)
        let end: [UInt8] = Array("\r\n\r\n".utf8)
        while buffer.count < 65536 {
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            buffer += chunk[0..<n]
            if let range = buffer.firstRange(of: end) {
                buffer = Array(buffer[..<range.lowerBound])
                break
            }
        }
        let lines = String(decoding: buffer, as: UTF8.self).components(separatedBy: "\r\n")
        let parts = lines.first?.split(separator: " ") ?? []
        guard parts.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return Request(method: String(parts[0]), path: String(parts[1]), headers: headers)
    }

    private func respond(to request: Request, on fd: Int32) {
        let isHead = request.method == "HEAD"
        guard request.method == "GET" || isHead else {
            return send(fd, status: 405, headers: [:], body: Data(), head: isHead)
        }
        let path = request.path.removingPercentEncoding ?? request.path
        let (found, requiredToken): ((key: String, file: File)?, String?) = lock.withLock {
            if path.hasPrefix("/blobs/") {
                let sha = String(path.dropFirst("/blobs/".count))
                return (files.first { $0.value.sha256 == sha }.map { ($0.key, $0.value) }, nil)
            }
            return (files[path].map { (path, $0) }, token)
        }
        if let requiredToken, request.headers["authorization"] != "Bearer \(requiredToken)" {
            return send(fd, status: 401, headers: ["X-Error-Code": "GatedRepo",
                                                   "X-Error-Message": "Access to this model is restricted."],
                        body: Data("Unauthorized".utf8), head: isHead)
        }
        guard let (key, file) = found else {
            return send(fd, status: 404, headers: ["X-Error-Code": "EntryNotFound"], body: Data("Entry not found".utf8),
                        head: isHead)
        }
        var headers: [String: String] = [:]
        if !path.hasPrefix("/blobs/") {
            if file.lfs {
                headers["X-Linked-Size"] = "\(file.data.count)"
                headers["X-Linked-Etag"] = "\"\(file.sha256)\""
                headers["ETag"] = "\"\(file.sha256)\""
            } else {
                // Like the hub: a non-LFS file's ETag is its git blob hash (40 hex), not a sha256.
                headers["ETag"] = "\"\(file.sha256.prefix(40))\""
            }
            if file.redirect {
                let location = baseURL.absoluteString + "/blobs/" + file.sha256
                headers["Location"] = location
                return send(fd, status: 302, headers: headers, body: Data("Found. Redirecting to \(location)".utf8),
                            head: isHead)
            }
        }
        var body = file.data
        if file.corrupt, !body.isEmpty {
            for i in stride(from: body.count / 3, to: body.count, by: max(1, body.count / 7)) { body[i] ^= 0xA5 }
        }
        var status = 200
        if let range = request.headers["range"], !file.ignoreRange {
            guard range.hasPrefix("bytes="), range.hasSuffix("-"),
                  let start = Int(range.dropFirst("bytes=".count).dropLast()), start < body.count else {
                headers["Content-Range"] = "bytes */\(body.count)"
                return send(fd, status: 416, headers: headers, body: Data(), head: isHead)
            }
            headers["Content-Range"] = "bytes \(start)-\(body.count - 1)/\(body.count)"
            body = body.subdata(in: start..<body.count)
            status = 206
        }
        var limit: Int?
        if !isHead, let k = file.cutAfter {
            limit = lock.withLock { cutDone.insert(key).inserted ? k : nil }
        }
        send(fd, status: status, headers: headers, body: body, head: isHead, cutAfter: limit)
    }

    private func send(_ fd: Int32, status: Int, headers: [String: String], body: Data, head: Bool, cutAfter: Int? = nil) {
        let reasons = [200: "OK", 206: "Partial Content", 302: "Found", 401: "Unauthorized", 404: "Not Found",
                       405: "Method Not Allowed", 416: "Range Not Satisfiable"]
        var text = "HTTP/1.1 \(status) \(reasons[status] ?? "Status")\r\n"
        var all = headers
        all["Content-Length"] = "\(body.count)"
        all["Connection"] = "close"
        if status == 200 || status == 206 { all["Accept-Ranges"] = "bytes" }
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { text += "\(k): \(v)\r\n" }
        text += "\r\n"
        guard writeAll(fd, Data(text.utf8)), !head else { return }
        let count = min(body.count, cutAfter ?? body.count)
        _ = writeAll(fd, body.prefix(count))
    }

    private func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let n = Glibc.send(fd, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
                if n <= 0 {
                    if n < 0, errno == EINTR { continue }
                    return false
                }
                offset += n
            }
            return true
        }
    }
}

struct LoopbackServerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
