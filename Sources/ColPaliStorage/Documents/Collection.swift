import ColPaliCore
import Foundation
import Logging
import PostgresNIO

/// A named set of documents embedded by one model (table `collections`):
/// its pages are comparable with each other and with that model's queries,
/// never with another model's.
public struct Collection: Sendable, Equatable, Codable {
    public static let defaultName = "default"

    public let id: Int
    public let name: String
    /// The model by content (`sha256:...`), or `name:...` for a collection
    /// carried over from before identities, until its model is next used.
    public let modelIdentity: String
    /// The model's name when last used, for people.
    public let modelName: String
    public let embeddingDimension: Int
    public let promptFormat: PromptFormat
    public let createdAt: Date

    /// Whether a model of this identity and name may add to or search this
    /// collection: the same identity, or, for a carried-over collection, the
    /// same name.
    public func accepts(identity: String, name: String) -> Bool {
        modelIdentity == identity || modelIdentity == "name:" + name
    }

    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, name.unicodeScalars.count <= 63 else { return false }
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "_.-"))
        return CharacterSet.alphanumerics.contains(first) && name.unicodeScalars.allSatisfy { $0.isASCII && allowed.contains($0) }
    }
}

/// The model a collection is for, as a caller knows it.
public struct CollectionModel: Sendable, Equatable {
    public let identity: String
    public let name: String
    public let embeddingDimension: Int
    public let promptFormat: PromptFormat

    public init(identity: String, name: String, embeddingDimension: Int, promptFormat: PromptFormat) {
        self.identity = identity
        self.name = name
        self.embeddingDimension = embeddingDimension
        self.promptFormat = promptFormat
    }
}

public enum CollectionError: Error, CustomStringConvertible, Sendable, Equatable {
    case notFound(String)
    case invalidName(String)
    case otherModel(collection: String, collectionModel: String, model: String)
    case otherPromptFormat(collection: String, collectionFormat: PromptFormat, format: PromptFormat)
    case alreadyExists(String)

    public var description: String {
        switch self {
        case .notFound(let name): return "there is no collection '\(name)'"
        case .invalidName(let name):
            return "'\(name)' is not a collection name (letters, digits, '_', '.', '-'; at most 63, starting with a letter or digit)"
        case .otherModel(let collection, let collectionModel, let model):
            return "collection '\(collection)' holds pages of another model (\(collectionModel)) than \(model)"
        case .otherPromptFormat(let collection, let collectionFormat, let format):
            return "collection '\(collection)' was embedded with prompt format \(collectionFormat.rawValue), not \(format.rawValue)"
        case .alreadyExists(let name): return "collection '\(name)' already exists"
        }
    }
}

/// Collections in the database.
public struct CollectionStore: Sendable {
    let logger: Logger

    public init(logger: Logger) {
        self.logger = logger
    }

    static let columns = "id, name, model_identity, model_name, embedding_dim, prompt_format, created_at"

    static func decode(_ row: PostgresRow) throws -> Collection {
        let (id, name, identity, modelName, dim, format, created) = try row.decode((Int, String, String, String, Int, String, Date).self)
        return Collection(id: id, name: name, modelIdentity: identity, modelName: modelName, embeddingDimension: dim,
                          promptFormat: PromptFormat(rawValue: format) ?? .transformers, createdAt: created)
    }

    public func list(on connection: PostgresConnection) async throws -> [Collection] {
        try await connection.query("SELECT \(unescaped: Self.columns) FROM collections ORDER BY name", logger: logger)
            .collect().map(Self.decode)
    }

    public func find(_ name: String, on connection: PostgresConnection) async throws -> Collection? {
        try await connection.query("SELECT \(unescaped: Self.columns) FROM collections WHERE name = \(name)", logger: logger)
            .collect().first.map(Self.decode)
    }

    /// The collection for this model: found (and checked to be for it, its
    /// identity recorded when it was carried over by name), or created when
    /// `create` is set. Concurrent callers creating the same name get one.
    public func resolve(_ name: String, for model: CollectionModel, create: Bool,
                        on connection: PostgresConnection) async throws -> Collection {
        guard Collection.isValidName(name) else { throw CollectionError.invalidName(name) }
        if let found = try await find(name, on: connection) {
            return try await check(found, model: model, on: connection)
        }
        guard create else { throw CollectionError.notFound(name) }
        let rows = try await connection.query("""
            INSERT INTO collections (name, model_identity, model_name, embedding_dim, prompt_format)
            VALUES (\(name), \(model.identity), \(model.name), \(model.embeddingDimension), \(model.promptFormat.rawValue))
            ON CONFLICT (name) DO NOTHING
            RETURNING \(unescaped: Self.columns)
            """, logger: logger).collect()
        if let created = try rows.first.map(Self.decode) {
            logger.info("created collection", metadata: ["collection": "\(name)", "model": "\(model.name)"])
            return created
        }
        // Someone else created it meanwhile.
        guard let found = try await find(name, on: connection) else { throw CollectionError.notFound(name) }
        return try await check(found, model: model, on: connection)
    }

    private func check(_ collection: Collection, model: CollectionModel, on connection: PostgresConnection) async throws -> Collection {
        guard collection.accepts(identity: model.identity, name: model.name) else {
            throw CollectionError.otherModel(collection: collection.name, collectionModel: collection.modelName, model: model.name)
        }
        guard collection.promptFormat == model.promptFormat else {
            throw CollectionError.otherPromptFormat(collection: collection.name, collectionFormat: collection.promptFormat,
                                                    format: model.promptFormat)
        }
        guard collection.modelIdentity != model.identity || collection.modelName != model.name else { return collection }
        // Carried over by name, or the same model under a new name: record it.
        let rows = try await connection.query("""
            UPDATE collections SET model_identity = \(model.identity), model_name = \(model.name)
            WHERE id = \(collection.id) RETURNING \(unescaped: Self.columns)
            """, logger: logger).collect()
        return try rows.first.map(Self.decode) ?? collection
    }

    /// Deletes a collection with its documents and pages; false when there was none.
    public func delete(_ name: String, on connection: PostgresConnection) async throws -> Bool {
        try await connection.query("DELETE FROM collections WHERE name = \(name) RETURNING id", logger: logger)
            .collect().count == 1
    }
}
