import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// The search page at `/`: three files from the bundle, no build step, no
/// CDN. Served to anyone (it holds no data; every call it makes goes
/// through the API's access rules), with a policy that lets it load only
/// itself.
struct WebPage {
    struct Asset {
        let data: Data
        let contentType: String
    }

    /// Path on the server -> file in Resources/web.
    static let files: [(path: String, file: String, type: String)] = [
        ("/", "index.html", "text/html; charset=utf-8"),
        ("/static/app.js", "app.js", "text/javascript; charset=utf-8"),
        ("/static/style.css", "style.css", "text/css; charset=utf-8"),
    ]

    static let assets: [String: Asset] = {
        var assets: [String: Asset] = [:]
        for (path, file, type) in files {
            if let data = ServerResources.data("web/" + file) { assets[path] = Asset(data: data, contentType: type) }
        }
        return assets
    }()

    /// Scripts and styles from this server only; images also from blob:
    /// URLs (fetched with the API key); no framing by other sites.
    static let contentSecurityPolicy =
        "default-src 'self'; img-src 'self' blob: data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"

    func serve(_ request: Request, context: ServerContext) async throws -> Response {
        guard let asset = Self.assets[request.uri.path] else { throw ServerResources.missing }
        return Response(status: .ok,
                        headers: [.contentType: asset.contentType, .contentSecurityPolicy: Self.contentSecurityPolicy,
                                  .init("X-Content-Type-Options")!: "nosniff", .cacheControl: "no-cache"],
                        body: .init(byteBuffer: ByteBuffer(bytes: asset.data)))
    }
}
