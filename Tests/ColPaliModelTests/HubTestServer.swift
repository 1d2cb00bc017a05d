import Crypto
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A stand-in for the Hugging Face Hub on 127.0.0.1, serving fixture
/// directories in the Hub's URL layout: `/{repo}/resolve/{revision}/{file}`
/// answers with X-Repo-Commit and an ETag (git blob SHA-1), and for
/// safetensors files a 302 to `/cdn/{sha256}` with X-Linked-Etag and
/// X-Linked-Size, as LFS files are served. Range requests are honoured.
final class HubTestServer: @unchecked Sendable {
    struct Repository {
        var commit: String
        var directory: URL
        var token: String?
    }

    struct State {
        var requests: [String] = []
        /// Close the connection after this many body bytes of the next CDN download.
        var cutNextDownloadAfter: Int?
        /// Serve these bytes instead of the real ones (wrong checksum).
        var corruptDownloads = false
    }

    let repositories: [String: Repository]
    let state = NIOLockedValueBox(State())
    private var channel: (any Channel)?
    private let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    private var blobs: [String: URL] = [:]

    init(repositories: [String: Repository]) throws {
        self.repositories = repositories
        for repository in repositories.values {
            for file in try FileManager.default.contentsOfDirectory(atPath: repository.directory.path) where file.hasSuffix(".safetensors") {
                let url = repository.directory.appendingPathComponent(file)
                blobs[Self.sha256(try Data(contentsOf: url))] = url
            }
        }
    }

    var endpoint: String { "http://127.0.0.1:\(channel?.localAddress?.port ?? 0)" }
    var requestCount: Int { state.withLockedValue { $0.requests.count } }

    func start() async throws {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.pipeline.configureHTTPServerPipeline().flatMap {
                    channel.pipeline.addHandler(Handler(server: self))
                }
            }
        channel = try await bootstrap.bind(host: "127.0.0.1", port: 0).get()
    }

    func stop() async {
        try? await channel?.close()
        try? await group.shutdownGracefully()
    }

    static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
    static func gitBlob(_ data: Data) -> String {
        var sha = Insecure.SHA1()
        sha.update(data: Data("blob \(data.count)\0".utf8))
        sha.update(data: data)
        return sha.finalize().map { String(format: "%02x", $0) }.joined()
    }

    struct Response {
        var status: HTTPResponseStatus
        var headers: [(String, String)] = []
        var body = Data()
        var cutAfter: Int?
    }

    func respond(method: HTTPMethod, uri: String, headers: HTTPHeaders) -> Response {
        state.withLockedValue { $0.requests.append("\(method) \(uri)") }
        let path = uri.split(separator: "?").first.map(String.init) ?? uri
        let parts = path.split(separator: "/").map(String.init)
        if parts.count == 2, parts[0] == "cdn", let url = blobs[parts[1]], var data = try? Data(contentsOf: url) {
            var cut: Int?
            state.withLockedValue { s in
                cut = s.cutNextDownloadAfter
                if method == .GET { s.cutNextDownloadAfter = nil }
                if s.corruptDownloads { data[data.count / 2] ^= 0xFF }
            }
            var start = 0
            var status = HTTPResponseStatus.ok
            if let range = headers.first(name: "Range"), range.hasPrefix("bytes="),
               let from = Int(range.dropFirst(6).split(separator: "-").first ?? "") {
                start = from
                status = .partialContent
            }
            let body = data.subdata(in: start..<data.count)
            return Response(status: status, headers: [("Content-Length", "\(body.count)")],
                            body: method == .HEAD ? Data() : body, cutAfter: method == .GET ? cut : nil)
        }
        // /{org}/{name}/resolve/{revision}/{file}
        guard parts.count >= 5, parts[2] == "resolve" else { return Response(status: .notFound) }
        let name = parts[0] + "/" + parts[1]
        guard let repository = repositories[name] else { return Response(status: .unauthorized) }
        if let token = repository.token, headers.first(name: "Authorization") != "Bearer \(token)" {
            return Response(status: .unauthorized)
        }
        let revision = parts[3]
        guard revision == "main" || revision == repository.commit else { return Response(status: .notFound) }
        let file = parts[4...].joined(separator: "/")
        let url = repository.directory.appendingPathComponent(file)
        guard let data = try? Data(contentsOf: url) else {
            return Response(status: .notFound, headers: [("X-Repo-Commit", repository.commit)])
        }
        if file.hasSuffix(".safetensors") {
            let sha = Self.sha256(data)
            return Response(status: .found, headers: [
                ("X-Repo-Commit", repository.commit), ("X-Linked-Etag", "\"\(sha)\""),
                ("X-Linked-Size", "\(data.count)"), ("Location", "/cdn/\(sha)"), ("Content-Length", "0"),
            ])
        }
        return Response(status: .ok, headers: [
            ("X-Repo-Commit", repository.commit), ("ETag", "\"\(Self.gitBlob(data))\""), ("Content-Length", "\(data.count)"),
        ], body: method == .HEAD ? Data() : data)
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let server: HubTestServer
        var head: HTTPRequestHead?

        init(server: HubTestServer) { self.server = server }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head): self.head = head
            case .body: break
            case .end:
                guard let head else { return }
                let response = server.respond(method: head.method, uri: head.uri, headers: head.headers)
                var headers = HTTPHeaders(response.headers)
                if !headers.contains(name: "Content-Length") { headers.add(name: "Content-Length", value: "\(response.body.count)") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
                var body = response.body
                if let cut = response.cutAfter { body = body.prefix(cut) }
                if !body.isEmpty {
                    var buffer = context.channel.allocator.buffer(capacity: body.count)
                    buffer.writeBytes(body)
                    context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
                }
                if response.cutAfter != nil {
                    context.flush()
                    context.close(promise: nil)
                    return
                }
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }
    }
}
