import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small HTTP/1.1 server on 127.0.0.1 that answers each request as a test decides: with a canned answer,
/// by passing it to an upstream server, by resetting the connection, or by never answering.
///
/// One request per connection (every answer says `Connection: close`), one thread per connection, POSIX
/// sockets only, so nothing here shares code with the client under test.
final class FaultProxy: Sendable {
    /// What to do with one request.
    enum Action: Sendable {
        /// Answer with this status, headers and body, after `delay` seconds; the body `bodyDelay` seconds
        /// after the head.
        case respond(
            status: Int, headers: [String: String] = [:], body: String, delay: Double = 0, bodyDelay: Double = 0)
        /// Send the request to the upstream server and relay its answer; reset if the upstream is unreachable.
        case forward
        /// Reset the connection (RST) without answering.
        case reset
        /// Never answer; the connection is closed when the client gives up.
        case hang
    }

    /// A request as received.
    struct Request: Sendable {
        /// Arrival order, from 0.
        var number: Int
        var method: String
        var path: String
        /// Header names lower-cased.
        var headers: [String: String]
        var body: Data

        /// The body as a JSON object, if it is one.
        var json: [String: Any]? {
            (try? JSONSerialization.jsonObject(with: body)) as? [String: Any]
        }

        /// The content of the last chat message, or the `prompt`.
        var promptText: String? {
            if let messages = json?["messages"] as? [[String: Any]] { return messages.last?["content"] as? String }
            return json?["prompt"] as? String
        }
    }

    private struct State {
        var requests: [Request] = []
        var inFlight = 0
        var maxInFlight = 0
        var forwarded = 0
        var upstreamFailures = 0
        var isStopped = false
    }

    /// The port the proxy listens on.
    let port: UInt16
    private let listener: Int32
    private let upstreamPort: UInt16?
    private let decide: @Sendable (Request) -> Action
    private let state = Mutex(State())

    /// Starts listening on a free port of 127.0.0.1.
    ///
    /// - Parameters:
    ///   - upstreamPort: Where `.forward` sends requests.
    ///   - decide: Chooses the action for each request, on the connection's own thread.
    init(upstreamPort: UInt16? = nil, decide: @escaping @Sendable (Request) -> Action) throws {
        (listener, port) = try Socket.listenOnLoopback()
        self.upstreamPort = upstreamPort
        self.decide = decide
        let thread = Thread { [self] in acceptLoop() }
        thread.start()
    }

    /// Stops accepting; connections being served end on their own.
    func stop() {
        state.withLock { $0.isStopped = true }
    }

    /// Every request received so far, in arrival order.
    var requests: [Request] { state.withLock { $0.requests } }
    /// The most requests that were being served at once (received, not yet answered).
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }
    /// Requests passed to the upstream and answered by it.
    var forwarded: Int { state.withLock { $0.forwarded } }
    /// Requests that found the upstream unreachable, or lost it before its answer began.
    var upstreamFailures: Int { state.withLock { $0.upstreamFailures } }

    private var isStopped: Bool { state.withLock { $0.isStopped } }

    // MARK: - Serving

    private func acceptLoop() {
        defer { close(listener) }
        while !isStopped {
            guard Socket.waitReadable(listener, milliseconds: 50) else { continue }
            let connection = accept(listener, nil, nil)
            guard connection >= 0 else { continue }
            let thread = Thread { [self] in serve(connection) }
            thread.start()
        }
    }

    private func serve(_ connection: Int32) {
        guard let raw = Socket.readRequest(connection) else {
            close(connection)
            return
        }
        let request = received(raw)
        switch decide(request) {
        case .respond(let status, let headers, let body, let delay, let bodyDelay):
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            answered()
            let (head, bytes) = Self.response(status: status, headers: headers, body: body)
            _ = Socket.writeAll(connection, head)
            if bodyDelay > 0 { Thread.sleep(forTimeInterval: bodyDelay) }
            _ = Socket.writeAll(connection, bytes)
            Socket.closeGracefully(connection)
        case .forward:
            forward(raw, from: connection)
        case .reset:
            answered()
            Socket.reset(connection)
        case .hang:
            Socket.waitUntilClosed(connection, stopping: { self.isStopped })
            answered()
            close(connection)
        }
    }

    private func received(_ raw: Socket.RawRequest) -> Request {
        state.withLock { state in
            let request = Request(
                number: state.requests.count, method: raw.method, path: raw.path, headers: raw.headers, body: raw.body)
            state.requests.append(request)
            state.inFlight += 1
            state.maxInFlight = max(state.maxInFlight, state.inFlight)
            return request
        }
    }

    /// Counts a request as answered; called before its answer is written, so that a client reacting to the
    /// answer can never be seen as one request too many.
    private func answered() {
        state.withLock { $0.inFlight -= 1 }
    }

    private func forward(_ raw: Socket.RawRequest, from connection: Int32) {
        let answer = upstreamPort.flatMap { port in
            Socket.connectLoopback(port).flatMap { upstream -> Data? in
                defer { close(upstream) }
                guard Socket.writeAll(upstream, raw.serialized(closing: true)) else { return nil }
                let data = Socket.readUntilClosed(upstream, stopping: { self.isStopped })
                return data.isEmpty ? nil : data
            }
        }
        state.withLock { state in
            if answer == nil { state.upstreamFailures += 1 } else { state.forwarded += 1 }
        }
        answered()
        guard let answer else {
            Socket.reset(connection)
            return
        }
        _ = Socket.writeAll(connection, answer)
        Socket.closeGracefully(connection)
    }

    /// An answer's head and body.
    private static func response(status: Int, headers: [String: String], body: String) -> (Data, Data) {
        let bytes = Data(body.utf8)
        var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\n"
        var fields = headers
        fields["Content-Length"] = String(bytes.count)
        fields["Connection"] = "close"
        if fields["Content-Type"] == nil { fields["Content-Type"] = "application/json" }
        for (name, value) in fields.sorted(by: { $0.key < $1.key }) { head += "\(name): \(value)\r\n" }
        return (Data((head + "\r\n").utf8), bytes)
    }
}

/// A blocking GET on 127.0.0.1: the status code, or `nil` when nothing answered.
func httpGetStatus(port: UInt16, path: String) -> Int? {
    guard let fd = Socket.connectLoopback(port) else { return nil }
    defer { close(fd) }
    let request = "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    guard Socket.writeAll(fd, Data(request.utf8)) else { return nil }
    let answer = String(decoding: Socket.readUntilClosed(fd, stopping: { false }), as: UTF8.self)
    let parts = answer.split(separator: " ", maxSplits: 2)
    return parts.count >= 2 ? Int(parts[1]) : nil
}

/// A port of 127.0.0.1 that was free a moment ago.
func freeLoopbackPort() throws -> UInt16 {
    let (fd, port) = try Socket.listenOnLoopback()
    close(fd)
    return port
}

// MARK: - POSIX sockets

/// The few blocking socket calls the proxy needs.
enum Socket {
    struct Failure: Error, CustomStringConvertible {
        var call: String
        var description: String { "\(call) failed: \(String(cString: strerror(errno)))" }
    }

    /// A request's parts, as read from the wire.
    struct RawRequest {
        var method: String
        var path: String
        var headerLines: [String]
        var headers: [String: String]
        var body: Data

        /// The request as bytes again, with `Connection: close` if `closing`.
        func serialized(closing: Bool) -> Data {
            var head = "\(method) \(path) HTTP/1.1\r\n"
            for line in headerLines where !(closing && line.lowercased().hasPrefix("connection:")) {
                head += line + "\r\n"
            }
            if closing { head += "Connection: close\r\n" }
            return Data((head + "\r\n").utf8) + body
        }
    }

    static func listenOnLoopback() throws -> (Int32, UInt16) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(call: "socket") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        var address = loopbackAddress(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0, listen(fd, 128) == 0 else {
            close(fd)
            throw Failure(call: "bind/listen")
        }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else {
            close(fd)
            throw Failure(call: "getsockname")
        }
        return (fd, UInt16(bigEndian: address.sin_port))
    }

    static func connectLoopback(_ port: UInt16) -> Int32? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        var address = loopbackAddress(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            close(fd)
            return nil
        }
        return fd
    }

    private static func loopbackAddress(port: UInt16) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = port.bigEndian
        address.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
        return address
    }

    /// Whether `fd` has something to read (or was closed) within the time.
    static func waitReadable(_ fd: Int32, milliseconds: Int32) -> Bool {
        var entry = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        return poll(&entry, 1, milliseconds) > 0
    }

    /// Reads one request: its head, then `Content-Length` bytes of body. `nil` if the peer went away first.
    static func readRequest(_ fd: Int32) -> RawRequest? {
        var buffer = Data()
        let separator = Data("\r\n\r\n".utf8)
        var headEnd: Range<Data.Index>?
        while headEnd == nil {
            guard let chunk = readSome(fd) else { return nil }
            buffer += chunk
            headEnd = buffer.range(of: separator)
        }
        guard let headEnd else { return nil }
        let lines = String(decoding: buffer[..<headEnd.lowerBound], as: UTF8.self).components(separatedBy: "\r\n")
        let requestLine = lines.first?.split(separator: " ") ?? []
        guard requestLine.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(
                in: .whitespaces)
        }
        var body = Data(buffer[headEnd.upperBound...])
        let length = headers["content-length"].flatMap { Int($0) } ?? 0
        while body.count < length {
            guard let chunk = readSome(fd) else { return nil }
            body += chunk
        }
        return RawRequest(
            method: String(requestLine[0]), path: String(requestLine[1]), headerLines: Array(lines.dropFirst()),
            headers: headers, body: body)
    }

    /// Reads what is there (blocking); `nil` at the end of the stream or on an error.
    private static func readSome(_ fd: Int32) -> Data? {
        var bytes = [UInt8](repeating: 0, count: 65536)
        let count = recv(fd, &bytes, bytes.count, 0)
        guard count > 0 else { return nil }
        return Data(bytes[0..<count])
    }

    /// Reads until the peer closes, or until `stopping` says so (checked every 50 ms).
    static func readUntilClosed(_ fd: Int32, stopping: () -> Bool) -> Data {
        var data = Data()
        while !stopping() {
            guard waitReadable(fd, milliseconds: 50) else { continue }
            guard let chunk = readSome(fd) else { break }
            data += chunk
        }
        return data
    }

    /// Waits until the peer closes, discarding what it sends.
    static func waitUntilClosed(_ fd: Int32, stopping: () -> Bool) {
        _ = readUntilClosed(fd, stopping: stopping)
    }

    static func writeAll(_ fd: Int32, _ data: Data) -> Bool {
        data.withUnsafeBytes { (buffer: UnsafeRawBufferPointer) -> Bool in
            guard let base = buffer.baseAddress else { return true }
            var sent = 0
            while sent < buffer.count {
                let count = send(fd, base + sent, buffer.count - sent, Int32(MSG_NOSIGNAL))
                guard count > 0 else { return false }
                sent += count
            }
            return true
        }
    }

    /// Closes after the peer has read everything (waiting at most 2 s for it to close its side), so that
    /// what it still sends causes no reset.
    static func closeGracefully(_ fd: Int32) {
        shutdown(fd, Int32(SHUT_WR))
        let deadline = Date().addingTimeInterval(2)
        waitUntilClosed(fd, stopping: { Date() > deadline })
        close(fd)
    }

    /// Closes with a TCP reset.
    static func reset(_ fd: Int32) {
        var option = linger(l_onoff: 1, l_linger: 0)
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &option, socklen_t(MemoryLayout<linger>.size))
        close(fd)
    }
}
