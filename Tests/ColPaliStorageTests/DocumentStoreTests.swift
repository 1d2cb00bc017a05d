@testable import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// What a store does when another writer got there first: pages stored
/// meanwhile stay as they are unless replacing, and a failure never
/// replaces a ready document.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason)))
struct DocumentStoreTests {
    let logger = TestPostgres.logger
    let store = DocumentStore(logger: TestPostgres.logger)

    func page(_ number: Int, _ value: Float) -> NewPage {
        NewPage(pageNumber: number, width: 10, height: 10, embedding: MultiVector(rows: 1, dim: 2, values: [value, 0]), patchGrid: 0)
    }

    @Test func pagesStoredMeanwhileAreKeptUnlessReplacing() async throws {
        let settings = try await TestPostgres.freshDatabase()
        try await Database.withConnection(settings, logger: logger) { c in
            let collection = try await CollectionStore(logger: logger).resolve(
                "default", for: CollectionModel(identity: "name:m", name: "m", embeddingDimension: 2, promptFormat: .transformers),
                create: true, on: c)
            let key = DocumentKey(collectionID: collection.id, contentHash: Data(repeating: 7, count: 32))
            let document = NewDocument(key: key, sourceURI: "file:///a.pdf", title: "A", sourcePageCount: 3)
            func stored(_ number: Int) async throws -> Float {
                try await c.query("SELECT (embedding::real[])[1][1] FROM pages WHERE page_number = \(number)", logger: logger)
                    .collect().first!.decode(Float.self)
            }

            let first = try await store.store(document, pages: [page(1, 1), page(2, 1)], replace: false, on: c)
            #expect(first.created && first.added == [1, 2] && first.replaced.isEmpty)
            // A second writer embedded pages 2 and 3 before the first one's were there.
            let second = try await store.store(document, pages: [page(2, 9), page(3, 9)], replace: false, on: c)
            #expect(second == StoreResult(documentID: first.documentID, created: false, added: [3], replaced: []))
            let (two, three) = (try await stored(2), try await stored(3))
            #expect(two == 1 && three == 9)
            // Forced: embedded again in place.
            let forced = try await store.store(document, pages: [page(2, 5)], replace: true, on: c)
            #expect(forced == StoreResult(documentID: first.documentID, created: false, added: [], replaced: [2]))
            #expect(try await stored(2) == 5)
            #expect(try await c.query("SELECT page_count FROM documents", logger: logger).collect().first!.decode(Int.self) == 3)
            // A failure recorded under the key leaves the ready document as it is.
            let failed = try await store.storeFailure(document, error: "damaged", on: c)
            #expect(failed == first.documentID)
            #expect(try await c.query("SELECT status FROM documents", logger: logger).collect().first!.decode(String.self) == "ready")
        }
    }
}
