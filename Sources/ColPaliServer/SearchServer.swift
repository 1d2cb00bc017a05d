import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import PostgresNIO
import ServiceLifecycle

/// `colpali serve`: the HTTP API over a search client, with access control,
/// limits and metrics.
///
///     let server = SearchServer(configuration: .init(database: settings), model: model)
///     try await server.application().runService()
///
/// The application runs the connection pool beside the HTTP server and
/// stops both on SIGINT or SIGTERM.
public struct SearchServer: Sendable {
    public struct Configuration: Sendable {
        public var database: ConnectionSettings
        /// Address to listen on: loopback unless told otherwise.
        public var host = "127.0.0.1"
        /// 0 picks a free port (tests).
        public var port = 8080
        public var keys: APIKeys = .none
        /// Requests a second per caller (API key, or address when
        /// anonymous); nil for none.
        public var rateLimit: RateLimiter.Limit? = RateLimiter.Limit(perSecond: 50, burst: 100)
        /// The collection a request names none.
        public var defaultCollection = Collection.defaultName
        /// Pooled database connections.
        public var maximumConnections = 8
        /// Where uploaded files are written for the ingest daemon (which must
        /// be allowed to read it: `colpali-ingest run --allow-root DIR`);
        /// nil: uploads are refused.
        public var uploadDirectory: URL?
        /// The largest upload taken. It is written to disk as it arrives:
        /// memory holds a few chunks of it, whatever its size.
        public var maximumUploadBytes = 100 << 20
        /// Web origins (`https://app.example.com`) whose pages may call the
        /// API from a browser; none by default.
        public var corsOrigins: [String] = []

        public init(database: ConnectionSettings) { self.database = database }
    }

    public let configuration: Configuration
    let database: PostgresClient
    let client: SearchClient
    let metrics = ServerMetrics()
    let embedder = ModelRunner()
    let logger: Logger

    public init(configuration: Configuration, model: ColPali?, logger: Logger = Logger(label: "colpali.serve")) {
        self.configuration = configuration
        self.logger = logger
        database = Database.makeClient(configuration.database, maximumConnections: configuration.maximumConnections,
                                       logger: logger)
        client = SearchClient(client: database, model: model, logger: logger)
    }

    /// Paths anyone may fetch, without a key, from anywhere.
    static let publicPaths: Set<String> = Set(["/healthz", "/readyz", "/openapi.json"] + WebPage.files.map(\.path))

    /// One route, as the OpenAPI document must describe it.
    struct RouteDescription: Hashable {
        let method: String
        let path: String
    }

    /// The routes, behind metrics, errors as JSON, and access control; and
    /// the list of them (checked against openapi.json by the tests).
    func router() -> (router: Router<ServerContext>, routes: [RouteDescription]) {
        let router = Router(context: ServerContext.self)
        let policy = AccessPolicy(keys: configuration.keys)
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ErrorMiddleware())
        if !configuration.corsOrigins.isEmpty { router.add(middleware: CORSMiddleware(origins: Set(configuration.corsOrigins))) }
        router.add(middleware: AccessMiddleware(policy: policy, limiter: configuration.rateLimit.map(RateLimiter.init),
                                                publicPaths: Self.publicPaths))
        let reads = router.group().add(middleware: RequireScope(scope: .read, policy: policy))
        let writes = router.group().add(middleware: RequireScope(scope: .write, policy: policy))
        var routes: [RouteDescription] = []
        func add<Group: RouterMethods<ServerContext>>(_ group: Group, _ method: HTTPRequest.Method, _ path: String,
                                                     _ handler: @escaping @Sendable (Request, ServerContext) async throws -> Response) {
            group.on(RouterPath(path), method: method, use: handler)
            routes.append(RouteDescription(method: method.rawValue, path: path))
        }

        let operations = OperationsAPI(client: client, metrics: metrics, database: database)
        add(router, .get, "/healthz", operations.health)
        add(router, .get, "/readyz", operations.ready)
        add(router, .get, "/openapi.json", operations.openAPI)
        add(reads, .get, "/metrics", operations.scrape)

        let search = SearchAPI(client: client, embedder: embedder, metrics: metrics,
                               defaultCollection: configuration.defaultCollection)
        add(reads, .post, "/v1/search") { request, context in try JSONBody.response(try await search.search(request, context: context)) }

        let documents = DocumentsAPI(client: client)
        add(reads, .get, "/v1/documents", documents.list)
        add(reads, .get, "/v1/documents/{id}", documents.get)
        add(writes, .delete, "/v1/documents/{id}", documents.delete)

        let uploads = UploadAPI(client: client, database: database, directory: configuration.uploadDirectory,
                                maximumBytes: configuration.maximumUploadBytes)
        add(writes, .post, "/v1/documents", uploads.upload)
        add(reads, .get, "/v1/jobs/{id}", uploads.job)
        add(reads, .get, "/v1/queue", uploads.queue)

        let pages = PagesAPI(client: client, embedder: embedder)
        add(reads, .get, "/v1/pages/{id}", pages.get)
        add(reads, .get, "/v1/pages/{id}/image", pages.image)
        add(reads, .get, "/v1/pages/{id}/map", pages.map)
        add(reads, .get, "/v1/pages/{id}/map.json", pages.mapInfo)

        // The search page: not part of the API, so not in `routes`.
        let page = WebPage()
        for file in WebPage.files { router.get(RouterPath(file.path), use: page.serve) }
        return (router, routes)
    }

    /// The HTTP server and the connection pool, as one service.
    /// `onRunning` hears the port once the server listens.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        Application(router: router().router,
                    configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "colpali"),
                    services: [client],
                    onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? 0) },
                    logger: logger)
    }
}
