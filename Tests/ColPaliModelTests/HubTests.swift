@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

/// Finding models like Hugging Face users expect, against a local Hub on 127.0.0.1.
@Suite(.serialized) struct HubTests {
    static let commit = "0123456789abcdef0123456789abcdef01234567"

    func withServer(_ repositories: [String: HubTestServer.Repository] = [
        "test-org/tiny-colpali": .init(commit: commit, directory: Fixtures.model("hf-fp32")),
        "test-org/tiny-colpali-sharded": .init(commit: commit, directory: Fixtures.model("hf-sharded")),
        "test-org/tiny-colpali-base": .init(commit: commit, directory: Fixtures.model("engine-base")),
        "test-org/tiny-colpali-adapter": .init(commit: commit, directory: Fixtures.model("engine-adapter")),
        "test-org/gated": .init(commit: commit, directory: Fixtures.model("hf-fp32"), token: "hf_secret"),
    ], _ body: (HubTestServer, URL) async throws -> Void) async throws {
        let server = try HubTestServer(repositories: repositories)
        try await server.start()
        let cache = try RepositoryPaths.temporaryDirectory("colpali-hub-cache")
        do {
            try await body(server, cache)
        } catch {
            await server.stop()
            throw error
        }
        await server.stop()
        try? FileManager.default.removeItem(at: cache)
    }

    func locator(_ server: HubTestServer, cache: URL, extra: [String: String] = [:]) -> ModelLocator {
        ModelLocator(environment: ["HF_ENDPOINT": server.endpoint, "HF_HUB_CACHE": cache.path].merging(extra) { $1 })
    }

    @Test func downloadsIntoTheStandardCacheThenReusesIt() async throws {
        try await withServer { server, cache in
            let located = try await locator(server, cache: cache).locate("test-org/tiny-colpali")
            #expect(located.identifier == "test-org/tiny-colpali@\(Self.commit)")
            let repo = cache.appendingPathComponent("models--test-org--tiny-colpali")
            #expect(located.directory.path == repo.appendingPathComponent("snapshots/\(Self.commit)").path)
            #expect(try String(contentsOf: repo.appendingPathComponent("refs/main"), encoding: .utf8) == Self.commit)
            // Snapshot entries are links into blobs/, as huggingface_hub makes them.
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: located.directory.appendingPathComponent("model.safetensors").path)
            #expect(link.hasPrefix("../../blobs/"))
            let model = try await ColPaliCheckpoint.load(located, locator: locator(server, cache: cache))
            #expect(model.configuration.embeddingDim == 128)
            // Second time: straight from the cache, no request at all.
            let before = server.requestCount
            _ = try await locator(server, cache: cache).locate("test-org/tiny-colpali")
            #expect(server.requestCount == before)
            // And offline.
            _ = try await locator(server, cache: cache, extra: ["HF_HUB_OFFLINE": "1"]).locate("test-org/tiny-colpali")
        }
    }

    @Test func shardedCheckpointAndPinnedRevision() async throws {
        try await withServer { server, cache in
            let located = try await locator(server, cache: cache).locate("test-org/tiny-colpali-sharded@\(Self.commit)")
            for shard in ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"] {
                #expect(FileManager.default.fileExists(atPath: located.directory.appendingPathComponent(shard).path))
            }
            _ = try Checkpoint(directory: located.directory)
        }
    }

    @Test func adapterAndItsBaseBothResolveThroughTheHub() async throws {
        try await withServer { server, cache in
            let model = try await ColPaliCheckpoint.load("test-org/tiny-colpali-adapter", locator: locator(server, cache: cache))
            #expect(model.weights.adapter != nil)
            #expect(FileManager.default.fileExists(atPath: cache.appendingPathComponent("models--test-org--tiny-colpali-base").path))
        }
    }

    @Test func offlineWithoutTheModelSaysWhatIsMissing() async throws {
        try await withServer { server, cache in
            do {
                _ = try await locator(server, cache: cache, extra: ["HF_HUB_OFFLINE": "1"]).locate("test-org/tiny-colpali")
                Issue.record("offline download happened")
            } catch let error as HubError {
                #expect(error.description.contains("HF_HUB_OFFLINE"))
                #expect(error.description.contains("model.safetensors"))
            }
            #expect(server.requestCount == 0)
        }
    }

    @Test func unreachableHubIsOneClearError() async throws {
        let cache = try RepositoryPaths.temporaryDirectory("colpali-hub-cache")
        let locator = ModelLocator(environment: ["HF_ENDPOINT": "http://127.0.0.1:1", "HF_HUB_CACHE": cache.path])
        do {
            _ = try await locator.locate("test-org/tiny-colpali")
            Issue.record("no error")
        } catch let error as HubError {
            #expect(error.description.contains("cannot reach the Hugging Face Hub at http://127.0.0.1:1"))
        }
    }

    @Test func unknownModelAndGatedModel() async throws {
        try await withServer { server, cache in
            await #expect(throws: HubError.self) { try await locator(server, cache: cache).locate("test-org/nope") }
            do {
                _ = try await locator(server, cache: cache).locate("test-org/gated")
                Issue.record("gated model without token")
            } catch let error as HubError {
                #expect(error.description.contains("HF_TOKEN"))
            }
            _ = try await locator(server, cache: cache, extra: ["HF_TOKEN": "hf_secret"]).locate("test-org/gated")
        }
    }

    @Test func interruptedDownloadResumesWithARangeRequest() async throws {
        try await withServer { server, cache in
            server.state.withLockedValue { $0.cutNextDownloadAfter = 300_000 }
            await #expect(throws: HubError.self) { try await locator(server, cache: cache).locate("test-org/tiny-colpali") }
            let blobs = cache.appendingPathComponent("models--test-org--tiny-colpali/blobs")
            let partial = try #require(try FileManager.default.contentsOfDirectory(atPath: blobs.path).first { $0.hasSuffix(".incomplete") })
            let size = try FileManager.default.attributesOfItem(atPath: blobs.appendingPathComponent(partial).path)[.size] as? Int
            #expect((1...300_000).contains(size ?? 0))
            let located = try await locator(server, cache: cache).locate("test-org/tiny-colpali")
            #expect(server.state.withLockedValue { $0.requests }.contains { $0.hasPrefix("GET /cdn/") })
            _ = try await ColPaliCheckpoint.load(located, locator: locator(server, cache: cache))
            #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.path).allSatisfy { !$0.hasSuffix(".incomplete") })
        }
    }

    @Test func corruptDownloadFailsTheChecksum() async throws {
        try await withServer { server, cache in
            server.state.withLockedValue { $0.corruptDownloads = true }
            do {
                _ = try await locator(server, cache: cache).locate("test-org/tiny-colpali")
                Issue.record("corrupt download accepted")
            } catch let error as HubError {
                #expect(error.description.contains("SHA-256"))
            }
            let blobs = cache.appendingPathComponent("models--test-org--tiny-colpali/blobs")
            #expect(try FileManager.default.contentsOfDirectory(atPath: blobs.path).allSatisfy { !$0.hasSuffix(".safetensors") })
        }
    }

    @Test func referencesParse() throws {
        #expect(try ModelReference("vidore/colpali-v1.2-hf") == .hub(repository: "vidore/colpali-v1.2-hf", revision: "main"))
        #expect(try ModelReference("vidore/colpali-v1.2@v1") == .hub(repository: "vidore/colpali-v1.2", revision: "v1"))
        #expect(try ModelReference("./models/x") == .directory(URL(fileURLWithPath: "./models/x").standardizedFileURL))
        #expect(throws: HubError.self) { try ModelReference("not a model id!") }
        #expect(throws: HubError.self) { try ModelReference("a/b/c") }
    }
}
