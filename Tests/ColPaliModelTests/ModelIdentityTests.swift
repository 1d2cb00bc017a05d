@testable import ColPaliModel
import Crypto
import Foundation
import Testing
import TestSupport

/// A model is named by what decides its outputs, not by where it lies:
/// collections record this, so moving a checkout orphans nothing and a
/// changed file is another model.
struct ModelIdentityTests {
    func copy(_ source: URL) throws -> URL {
        let target = try RepositoryPaths.temporaryDirectory("colpali-identity").appendingPathComponent("model")
        try FileManager.default.copyItem(at: source, to: target)
        return target
    }

    func cache() throws -> URL {
        try RepositoryPaths.temporaryDirectory("colpali-identity-cache").appendingPathComponent("files.json")
    }

    @Test func aCopiedModelIsTheSameModelAndAChangedOneIsNot() throws {
        let original = Fixtures.model("hf-fp32")
        let cache = try cache()
        let identity = try ModelIdentity.of(directories: [original], cache: cache)
        #expect(identity.hasPrefix("sha256:") && identity.count == 7 + 64)
        let copied = try copy(original)
        #expect(try ModelIdentity.of(directories: [copied], cache: cache) == identity)
        // Files that decide nothing (a README) change nothing.
        try Data("notes".utf8).write(to: copied.appendingPathComponent("README.md"))
        #expect(try ModelIdentity.of(directories: [copied], cache: cache) == identity)
        // A changed configuration is another model, even with the same size
        // (the cache is keyed by modification time too).
        let config = copied.appendingPathComponent("config.json")
        var text = try Data(contentsOf: config)
        text[text.count - 1] = text.last == UInt8(ascii: "\n") ? UInt8(ascii: " ") : UInt8(ascii: "\n")
        try text.write(to: config)
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: config.path)
        #expect(try ModelIdentity.of(directories: [copied], cache: cache) != identity)
        // So is one weight file more.
        let other = try copy(original)
        try FileManager.default.copyItem(at: other.appendingPathComponent("model.safetensors"),
                                         to: other.appendingPathComponent("model-extra.safetensors"))
        #expect(try ModelIdentity.of(directories: [other], cache: cache) != identity)
    }

    /// Hub snapshots link to blobs named by their SHA-256: the name is used,
    /// the (large) file is not read, and the result equals hashing it.
    @Test func hubBlobsAreNamedByTheirDigest() throws {
        let original = Fixtures.model("hf-fp32")
        let root = try RepositoryPaths.temporaryDirectory("colpali-identity-hub")
        let blobs = root.appendingPathComponent("blobs")
        let snapshot = root.appendingPathComponent("snapshots/abc")
        try FileManager.default.createDirectory(at: blobs, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: snapshot, withIntermediateDirectories: true)
        for name in try FileManager.default.contentsOfDirectory(atPath: original.path) {
            let data = try Data(contentsOf: original.appendingPathComponent(name))
            let digest = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
            try data.write(to: blobs.appendingPathComponent(digest))
            try FileManager.default.createSymbolicLink(atPath: snapshot.appendingPathComponent(name).path,
                                                       withDestinationPath: "../../blobs/\(digest)")
        }
        // The weights blob's bytes no longer match its name: an identity that
        // read them would differ from the original's; one that takes the name
        // does not.
        let weights = try FileManager.default.destinationOfSymbolicLink(atPath: snapshot.appendingPathComponent("model.safetensors").path)
        try Data("not the weights".utf8).write(to: snapshot.appendingPathComponent(weights).standardizedFileURL)
        let cache = try cache()
        #expect(try ModelIdentity.of(directories: [snapshot], cache: cache) == ModelIdentity.of(directories: [original], cache: cache))
    }

    /// The identity a loaded model reports is its checkpoint's.
    @Test func aLoadedModelReportsItsIdentity() async throws {
        let model = try await ColPali.load(Fixtures.model("hf-fp32").path, precision: .fp32,
                                           locator: ModelLocator(environment: ["HF_HUB_OFFLINE": "1"]),
                                           context: ComputeContext(threads: 1))
        #expect(model.identity == (try ModelIdentity.of(directories: [Fixtures.model("hf-fp32")], cache: try cache())))
    }
}
