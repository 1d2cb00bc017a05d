import ColPaliStorage
import Foundation
import PostgresNIO
import Testing
import TestSupport

/// `colpali-ingest import`: vectors computed elsewhere are stored exactly as
/// native ingest stores the same pages, and bad files change nothing.
@Suite(.serialized, .enabled(if: TestPostgres.isAvailable, Comment(rawValue: TestPostgres.skipReason))) struct ImportCommandTests {
    let colpali = RepositoryPaths.executable("colpali")
    let ingest = RepositoryPaths.executable("colpali-ingest")

    /// Every stored column of a collection's pages that ingest computes.
    static func pages(_ settings: ConnectionSettings, collection: String) async throws -> [String] {
        try await Database.withConnection(settings, logger: TestPostgres.logger) { c in
            try await c.query("""
                SELECT concat_ws(' | ', p.page_number, p.width, p.height, p.patch_grid, p.pool_factor,
                                 md5(p.embedding::real[]::text), md5(binary_quantize(p.embedding)), md5(p.image))
                FROM pages p JOIN documents d ON d.id = p.document_id JOIN collections c ON c.id = d.collection_id
                WHERE c.name = \(collection) ORDER BY d.source_uri, p.page_number
                """, logger: TestPostgres.logger).collect().map { try $0.decode(String.self) }
        }
    }

    @Test func importedVectorsAreStoredAsNativeIngestStoresThem() async throws {
        let settings = try await TestPostgres.freshDatabase()
        let environment = Fixtures.commandEnvironment(settings)
        func run(_ binary: URL, _ arguments: [String]) async throws -> (status: Int32, output: String, error: String) {
            try await ChildProcess.run(binary, arguments, environment: environment)
        }
        let directory = try RepositoryPaths.temporaryDirectory("import")
        defer { try? FileManager.default.removeItem(at: directory) }
        let images = ["doc0.png", "doc1.png"].map { Fixtures.image($0).path }

        // Native: the model embeds and stores.
        for image in images {
            let added = try await run(ingest, ["add", "--precision", "fp32", "--collection", "native", "--store-images", "png", image])
            #expect(added.status == 0, "\(added.error)")
        }
        // Elsewhere: the same model's vectors written to files (as colpali embed writes .npy/.npz), then imported.
        for (index, image) in images.enumerated() {
            let file = directory.appendingPathComponent("page\(index).npy").path
            let embedded = try await run(colpali, ["embed", "--precision", "fp32", "--image", image, "--format", "npy", "--output", file])
            #expect(embedded.status == 0, "\(embedded.error)")
            let imported = try await run(ingest, ["import", image, "--embeddings", file, "--model-name", "tiny-colpali",
                                                  "--patch-grid", "4", "--collection", "imported", "--store-images", "png"])
            #expect(imported.status == 0, "\(imported.error)")
            #expect(imported.output.contains("stored as document"))
        }
        let native = try await Self.pages(settings, collection: "native")
        #expect(native.count == 2)
        #expect(try await Self.pages(settings, collection: "imported") == native)

        // Importing again is a no-op; --force replaces in place.
        let again = try await run(ingest, ["import", images[0], "--embeddings", directory.appendingPathComponent("page0.npy").path,
                                           "--model-name", "tiny-colpali", "--patch-grid", "4", "--collection", "imported"])
        #expect(again.output.contains("already stored"), "\(again.output)")

        // Refusals: each says why, and the collection is as it was.
        let two = directory.appendingPathComponent("two.npz").path
        #expect(try await run(colpali, ["embed", "--precision", "fp32", "--image", images[0], "--image", images[1],
                                        "--format", "npy", "--output", two]).status == 0)
        let broken = directory.appendingPathComponent("broken.npy")
        try Data("not numpy".utf8).write(to: broken)
        let refusals: [([String], String)] = [
            (["import", images[0], "--embeddings", two, "--model-name", "tiny-colpali", "--patch-grid", "4", "--collection", "imported", "--force"],
             "the embeddings hold 2 pages but the document has 1 selected"),
            (["import", images[0], "--embeddings", directory.appendingPathComponent("page0.npy").path, "--model-name", "another-model",
              "--patch-grid", "4", "--collection", "imported", "--force"], "holds pages of tiny-colpali, not another-model"),
            (["import", images[0], "--embeddings", directory.appendingPathComponent("page0.npy").path, "--model-name", "tiny-colpali",
              "--collection", "imported", "--force"], "not 32 x 32 patches"),
            (["import", images[0], "--embeddings", broken.path, "--model-name", "tiny-colpali", "--collection", "imported"],
             "not a NumPy .npy file"),
            (["import", images[0], "--embeddings", directory.appendingPathComponent("page0.npy").path, "--collection", "imported"],
             "--model-name"),
        ]
        for (arguments, message) in refusals {
            let result = try await run(ingest, arguments)
            #expect(result.status != 0)
            #expect(result.error.contains(message), "\(result.error)")
        }
        #expect(try await Self.pages(settings, collection: "imported") == native)
    }
}
