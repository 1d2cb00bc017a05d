import ColPaliIngest
import ColPaliModel
import ColPaliStorage
import Foundation
import Logging
import TestSupport

/// The tiny fixture model, loaded once for the ingest tests.
enum IngestFixtures {
    static let model: ColPali = {
        let semaphore = DispatchSemaphore(value: 0)
        let box = Box()
        Task {
            box.model = try? await ColPali.load(
                Fixtures.model("hf-fp32").path, precision: .fp32,
                locator: ModelLocator(environment: ["HF_HUB_OFFLINE": "1"]),
                context: ComputeContext(threads: 2))
            semaphore.signal()
        }
        semaphore.wait()
        return box.model!
    }()

    final class Box: @unchecked Sendable { var model: ColPali? }

    /// An ingestor on a pool of its own for the duration of `body`.
    static func withIngestor<T: Sendable>(_ settings: ConnectionSettings, _ body: @Sendable (Ingestor) async throws -> T)
        async throws -> T {
        try await Database.withClient(settings, logger: TestPostgres.logger) { client in
            try await body(Ingestor(model: model, promptFormat: .transformers, batchSize: 2, client: client, logger: TestPostgres.logger))
        }
    }

    /// Environment for a child colpali-ingest / colpali process.
    static func environment(_ settings: ConnectionSettings) -> [String: String] {
        Fixtures.commandEnvironment(settings)
    }
}
