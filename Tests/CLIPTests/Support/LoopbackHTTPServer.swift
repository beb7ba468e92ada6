import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A tiny blocking-socket HTTP/1.1 server on 127.0.0.1 (ephemeral port) for tests: every request goes to
/// `handler`, which answers with a status, headers and a body; a body may be cut after some bytes (the
/// connection then closes, as a dropped download would). Every response closes its connection.
/// Call `stop()` at the end of a test.
final class LoopbackHTTPServer: @unchecked Sendable {
    struct Request: Sendable, CustomStringConvertible {
        var method: String
        /// The request target as sent (path and query, percent-encoded).
        var target: String
        /// Header names in lower case.
        var headers: [String: String]
        /// The path, percent-decoded, without the query.
        var path: String { String(target.split(separator: "?", maxSplits: 1).first ?? "").removingPercentEncoding ?? target }
        var description: String { "\(method) \(target)" }
    }

    struct Response {
        var status: Int
        var headers: [String: String] = [:]
        var body = Data()
        /// Send the full headers but only this many body bytes, then close.
        var cutAfter: Int?
    }

    private let lock = NSLock()
    private let listenFD: Int32
    private let acceptLoopDone = DispatchSemaphore(value: 0)
    private var stopped = false
    private let handler: @Sendable (Request) -> Response
    let port: UInt16

    init(handler: @escaping @Sendable (Request) -> Response) throws {
        self.handler = handler
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
        send(fd, handler(request), head: request.method == "HEAD")
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
        return Request(method: String(parts[0]), target: String(parts[1]), headers: headers)
    }

    private func send(_ fd: Int32, _ response: Response, head: Bool) {
        let reasons = [200: "OK", 206: "Partial Content", 302: "Found", 307: "Temporary Redirect", 401: "Unauthorized",
                       403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed", 416: "Range Not Satisfiable",
                       429: "Too Many Requests", 500: "Internal Server Error", 503: "Service Unavailable"]
        var text = "HTTP/1.1 \(response.status) \(reasons[response.status] ?? "Status")\r\n"
        var all = response.headers
        all["Content-Length"] = "\(response.body.count)"
        all["Connection"] = "close"
        for (k, v) in all.sorted(by: { $0.key < $1.key }) { text += "\(k): \(v)\r\n" }
        text += "\r\n"
        guard writeAll(fd, Data(text.utf8)), !head else { return }
        _ = writeAll(fd, response.body.prefix(min(response.body.count, response.cutAfter ?? response.body.count)))
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
