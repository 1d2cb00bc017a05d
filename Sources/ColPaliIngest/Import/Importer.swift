import ColPaliCore
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import PostgresNIO

/// Stores a document with page multi-vectors computed elsewhere, exactly as
/// native ingest stores its own (same rows, codes, images, collection
/// rules): the file is rendered only to learn each page's size and, if
/// asked, to keep its image.
public struct Importer: Sendable {
    let client: PostgresClient
    let logger: Logger

    public init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    public enum ImportError: Error, CustomStringConvertible, Sendable, Equatable {
        case pageCountMismatch(embeddings: Int, pages: Int)
        case otherModel(collection: String, collectionModel: String, model: String)
        case dimensionMismatch(collection: String, collectionDimension: Int, dimension: Int)
        case noPatchGrid(page: Int, rows: Int, grid: Int)
        case invalidModelName(String)

        public var description: String {
            switch self {
            case .pageCountMismatch(let embeddings, let pages):
                return "the embeddings hold \(embeddings) page\(embeddings == 1 ? "" : "s") but the document has \(pages) selected"
            case .otherModel(let collection, let collectionModel, let model):
                return "collection '\(collection)' holds pages of \(collectionModel), not \(model)"
            case .dimensionMismatch(let collection, let collectionDimension, let dimension):
                return "collection '\(collection)' has \(collectionDimension)-dimensional vectors, the embeddings \(dimension)"
            case .noPatchGrid(let page, let rows, let grid):
                return "page \(page) has \(rows) vectors, not \(grid) x \(grid) patches and a few text tokens: give the model's patch grid, or the pool factor if the pages were pooled"
            case .invalidModelName(let name):
                return "'\(name)' is not a model name (1 to 200 printable characters)"
            }
        }
    }

    /// ColPali's grid: 448 x 448 pixels in patches of 14.
    public static let defaultPatchGrid = 32

    /// Checks that a page's rows can be `grid` x `grid` patches followed by
    /// the document prompt's text tokens (a handful: at most 64 allowed), so
    /// that similarity maps are drawn on the right grid. Pooled rows are
    /// cluster means, with no grid (0).
    public static func patchGrid(rows: Int, grid: Int, poolFactor: Int) -> Int? {
        if poolFactor > 1 { return 0 }
        guard grid >= 1, (0...64).contains(rows - grid * grid) else { return nil }
        return grid
    }

    /// The model a collection of imported pages is for: known by name only
    /// (`name:...`), which the same model used natively later is accepted as.
    static func collectionModel(name: String, dimension: Int, format: PromptFormat) -> CollectionModel {
        CollectionModel(identity: "name:" + name, name: name, embeddingDimension: dimension, promptFormat: format)
    }

    public func importDocument(_ source: SourceFile, embeddings: EmbeddingFile, modelName: String, promptFormat: PromptFormat,
                               patchGrid: Int = Importer.defaultPatchGrid, options: IngestOptions) async throws -> IngestOutcome {
        let name = modelName.trimmingCharacters(in: .whitespaces)
        guard (1...200).contains(name.count), name.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7f }) else {
            throw ImportError.invalidModelName(modelName)
        }
        let plan = try Ingestor.Plan(source: source, options: IngestOptions.forcing(options), stored: [])
        guard plan.pages.count == embeddings.pages.count else {
            throw ImportError.pageCountMismatch(embeddings: embeddings.pages.count, pages: plan.pages.count)
        }
        let grids = try embeddings.pages.enumerated().map { index, page in
            guard let grid = Self.patchGrid(rows: page.rows, grid: patchGrid, poolFactor: options.poolFactor) else {
                throw ImportError.noPatchGrid(page: plan.pages[index], rows: page.rows, grid: patchGrid)
            }
            return grid
        }
        let dimension = embeddings.pages[0].dim
        let model = Self.collectionModel(name: name, dimension: dimension, format: promptFormat)
        let collection = try await client.withConnection { c in
            let store = CollectionStore(logger: self.logger)
            if let found = try await store.find(options.collection, on: c) {
                // The caller can only vouch for the model's name: it must be the one the collection records.
                guard found.modelName == name || found.accepts(identity: model.identity, name: name) else {
                    throw ImportError.otherModel(collection: found.name, collectionModel: found.modelName, model: name)
                }
                return found
            }
            return try await store.resolve(options.collection, for: model, create: true, on: c)
        }
        guard collection.embeddingDimension == dimension else {
            throw ImportError.dimensionMismatch(collection: collection.name, collectionDimension: collection.embeddingDimension,
                                                dimension: dimension)
        }
        let key = DocumentKey(collectionID: collection.id, tenant: options.tenant, contentHash: source.contentHash)
        let existing = try await client.withConnection { c in try await DocumentStore(logger: self.logger).existing(key, on: c) }
        if let existing, existing.status == .ready, !options.force { return .alreadyStored(documentID: existing.id) }

        var pages: [NewPage] = []
        for (index, number) in plan.pages.enumerated() {
            let image = try plan.renderer.map { try $0.render(page: number, dpi: options.dpi) }
                ?? RGBImage.decode(source.data, source: source.path, alpha: promptFormat.alphaHandling)
            var page = NewPage(pageNumber: number, width: image.width, height: image.height, embedding: embeddings.pages[index],
                               patchGrid: grids[index])
            page.poolFactor = options.poolFactor
            page.image = try options.storedImage(of: image)
            pages.append(page)
        }
        let document = NewDocument(key: key, sourceURI: source.uri, title: options.title ?? plan.title,
                                   metadata: options.metadata ?? [:], sourcePageCount: plan.sourcePageCount)
        let stored = pages
        let result = try await client.withConnection { c in
            try await DocumentStore(logger: self.logger).store(document, pages: stored, replace: true, on: c)
        }
        logger.info("imported pages", metadata: ["source": "\(source.path)", "document": "\(result.documentID)",
                                                 "collection": "\(collection.name)", "pages": "\(pages.count)", "model": "\(name)"])
        return result.created ? .stored(documentID: result.documentID, pages: pages.count)
            : .addedPages(documentID: result.documentID, pages: (result.added + result.replaced).sorted())
    }
}

extension IngestOptions {
    /// Every selected page planned, stored or not: imported vectors replace.
    static func forcing(_ options: IngestOptions) -> IngestOptions {
        var forced = options
        forced.force = true
        return forced
    }
}
