import ArgumentParser
import ColPaliCLISupport
import ColPaliModel
import ColPaliServer
import ColPaliStorage
import Foundation

/// `colpali serve --port N`: the HTTP API.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Answer searches over HTTP: a JSON API (POST /v1/search, documents, page images, similarity maps), "
            + "health, metrics and its OpenAPI document.",
        discussion: """
            Listens on 127.0.0.1 unless --host says otherwise. Without API keys, requests from this machine may read \
            (search, list, look at pages) and nothing may write; requests from elsewhere need a key. Keys come from \
            --api-keys FILE or $COLPALI_API_KEYS, one per line (or per ';'): SCOPES TOKEN [NAME], for example \
            'read,write 3f6c0a9e1d2b4c5a8e7f6a5b4c3d2e1f uploader'. Clients send 'Authorization: Bearer TOKEN'. \
            The API is described at GET /openapi.json.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var scope: CollectionOptions

    @Option(help: "Port to listen on (0 picks a free one and prints it).") var port = 8080
    @Option(help: "Address to listen on: 127.0.0.1 for this machine only, 0.0.0.0 for every interface.") var host = "127.0.0.1"
    @Option(name: .customLong("api-keys"), help: ArgumentHelp("File of API keys (default: $COLPALI_API_KEYS).", valueName: "file"))
    var apiKeys: String?
    @Option(name: .customLong("rate-limit"), help: "Requests a second per caller (API key, or address without one); 0 for no limit.")
    var rateLimit: Double = 50
    @Option(help: "Database connections in the pool.") var connections = 8
    @Option(name: .customLong("upload-dir"), help: ArgumentHelp(
        "Take uploads (POST /v1/documents) into this directory and queue them; run `colpali-ingest run --allow-root DIR` to ingest them.",
        valueName: "dir"))
    var uploadDirectory: String?
    @Option(name: .customLong("max-upload-mb"), help: "The largest upload taken, in MiB.") var maximumUploadMiB = 100
    @Option(name: .customLong("cors-origin"), help: ArgumentHelp(
        "A web origin whose pages may call the API from a browser, e.g. https://app.example.com (repeatable; default none).",
        valueName: "origin"))
    var corsOrigins: [String] = []
    @Flag(name: .customLong("no-model"), help: "Load no model: searches must send query_embedding, and maps are unavailable.")
    var noModel = false

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard rateLimit >= 0, rateLimit.isFinite else { throw ValidationError("--rate-limit must be 0 or more") }
        guard (1...1_000).contains(connections) else { throw ValidationError("--connections must be from 1 to 1000") }
        guard (1...4_096).contains(maximumUploadMiB) else { throw ValidationError("--max-upload-mb must be from 1 to 4096") }
        for origin in corsOrigins {
            guard let url = URL(string: origin), let scheme = url.scheme, ["http", "https"].contains(scheme), url.host != nil,
                  url.path.isEmpty, url.query == nil else {
                throw ValidationError("--cors-origin '\(origin)' is not an origin like https://app.example.com")
            }
        }
        if let uploadDirectory {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: uploadDirectory, isDirectory: &isDirectory), isDirectory.boolValue,
                  FileManager.default.isWritableFile(atPath: uploadDirectory) else {
                throw ValidationError("--upload-dir \(uploadDirectory) is not a directory this user can write to")
            }
        }
    }

    func keys() throws -> APIKeys {
        let (text, origin): (String, String)
        if let apiKeys {
            do {
                text = try String(contentsOfFile: apiKeys, encoding: .utf8)
            } catch {
                throw ValidationError("cannot read --api-keys \(apiKeys): \(error.localizedDescription)")
            }
            origin = apiKeys
        } else if let variable = ProcessInfo.processInfo.environment["COLPALI_API_KEYS"] {
            (text, origin) = (variable, "$COLPALI_API_KEYS")
        } else {
            return .none
        }
        do {
            let keys = try APIKeys.parse(text)
            if keys.isEmpty { throw ValidationError("\(origin) holds no API key") }
            return keys
        } catch let error as APIKeys.ParseError {
            throw ValidationError("\(origin): \(error)")
        }
    }

    func run() async throws {
        let logger = global.logger
        let keys = try keys()
        let database = try await global.open(.existing, command: "colpali", logger: logger)
        let model = noModel ? nil : try await modelOptions.loadModel()
        var configuration = SearchServer.Configuration(database: database)
        configuration.host = host
        configuration.port = port
        configuration.keys = keys
        configuration.rateLimit = rateLimit > 0 ? .init(perSecond: rateLimit) : nil
        configuration.defaultCollection = scope.collection
        configuration.maximumConnections = connections
        configuration.uploadDirectory = uploadDirectory.map { URL(fileURLWithPath: $0).standardizedFileURL }
        configuration.maximumUploadBytes = maximumUploadMiB << 20
        configuration.corsOrigins = corsOrigins
        let server = SearchServer(configuration: configuration, model: model, logger: logger)
        let (host, keyCount) = (self.host, keys.keys.count)
        try await server.application(onRunning: { port in
            let access = keyCount == 0 ? "no API keys: read-only, from this machine only" : "\(keyCount) API key(s)"
            // Written straight to the descriptor: a script waiting for this line reads it at once.
            FileHandle.standardOutput.write(Data("colpali serve: listening on http://\(host):\(port) (\(access))\n".utf8))
        }).runService()
    }
}
