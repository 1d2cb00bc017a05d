import ColPaliCore
import ColPaliSearch
import Foundation
import Hummingbird

/// Documents: list, get, delete.
struct DocumentsAPI {
    let client: SearchClient

    struct DocumentList: Encodable {
        let documents: [DocumentJSON]
        /// The offset of the next page of the list, when there may be one (null at the end).
        let nextOffset: Int?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(documents, forKey: .documents)
            try c.encode(nextOffset, forKey: .nextOffset)
        }
        enum CodingKeys: String, CodingKey { case documents, nextOffset }
    }

    /// A document as the API writes it: every field present, null where empty.
    struct DocumentJSON: Encodable {
        let summary: DocumentSummary
        enum CodingKeys: String, CodingKey {
            case id, collection, tenant, sourceUri, title, pageCount, sourcePageCount, status, error, createdAt
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(summary.id, forKey: .id)
            try c.encode(summary.collection, forKey: .collection)
            try c.encode(summary.tenant, forKey: .tenant)
            try c.encode(summary.sourceURI, forKey: .sourceUri)
            try c.encode(summary.title, forKey: .title)
            try c.encode(summary.pageCount, forKey: .pageCount)
            try c.encode(summary.sourcePageCount, forKey: .sourcePageCount)
            try c.encode(summary.status, forKey: .status)
            try c.encode(summary.error, forKey: .error)
            try c.encode(summary.createdAt, forKey: .createdAt)
        }
    }

    func list(_ request: Request, context: ServerContext) async throws -> Response {
        let query = QueryParameters(request)
        try query.allowOnly(["collection", "limit", "offset"])
        let limit = try query.integer("limit", default: 100, range: 1...1_000)
        let offset = try query.integer("offset", default: 0, range: 0...Int(Int32.max))
        let documents = try await client.documents(in: query.string("collection"), limit: limit, offset: offset)
        return try JSONBody.response(DocumentList(documents: documents.map(DocumentJSON.init),
                                                  nextOffset: documents.count == limit ? offset + limit : nil))
    }

    func get(_ request: Request, context: ServerContext) async throws -> Response {
        try JSONBody.response(DocumentJSON(summary: try await client.document(id: try context.identifier("id"))))
    }

    func delete(_ request: Request, context: ServerContext) async throws -> Response {
        let id = try context.identifier("id")
        guard try await client.deleteDocument(id: id) else { throw SearchError.documentNotFound(id) }
        context.logger.info("deleted document", metadata: ["document": "\(id)", "key": "\(context.caller?.keyName ?? "-")"])
        return Response(status: .noContent)
    }
}

/// A request's query string, read strictly: unknown names and malformed
/// numbers are errors.
struct QueryParameters {
    let values: [String: String]
    let names: [String]

    init(_ request: Request) {
        var values: [String: String] = [:]
        var names: [String] = []
        for (name, value) in request.uri.queryParameters {
            names.append(String(name))
            // Form encoding, as browsers and Python's urlencode write it: '+' is a space.
            let text = String(value).replacingOccurrences(of: "+", with: " ")
            values[String(name)] = text.removingPercentEncoding ?? text
        }
        self.values = values
        self.names = names
    }

    func allowOnly(_ allowed: Set<String>) throws {
        if let unknown = names.first(where: { !allowed.contains($0) }) {
            throw APIError.invalid("unknown query parameter '\(unknown)' (known: \(allowed.sorted().joined(separator: ", ")))")
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func integer(_ name: String, default value: Int, range: ClosedRange<Int>) throws -> Int {
        guard let text = values[name] else { return value }
        guard let number = Int(text), range.contains(number) else {
            throw APIError.invalid("\(name) must be an integer from \(range.lowerBound) to \(range.upperBound)")
        }
        return number
    }
}

extension ServerContext {
    /// A positive integer path parameter.
    func identifier(_ name: String) throws -> Int {
        guard let text = parameters.get(name), let id = Int(text), id > 0 else {
            throw APIError.invalid("\(name) must be a positive integer")
        }
        return id
    }
}
