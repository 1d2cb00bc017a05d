import Foundation
import Logging

/// Finds a model's files the way Hugging Face users expect: a local directory
/// as it is; a Hub id in the standard cache (so a model Python already
/// downloaded is reused), else downloaded from `HF_ENDPOINT` into that cache.
/// `HF_HUB_OFFLINE=1` never touches the network.
public struct ModelLocator: Sendable {
    public struct Located: Sendable {
        public let directory: URL
        /// A stable name for the model: `org/name@<commit>` or the directory path.
        public let identifier: String
    }

    package let cache: HubCache
    public let endpoint: String
    public let token: String?
    public let offline: Bool
    /// Called as downloads advance (from the download's task).
    public let progress: (@Sendable (DownloadProgress) -> Void)?
    let logger: Logger

    /// `environment` supplies the standard Hugging Face variables (HF_HOME,
    /// HF_HUB_CACHE, HF_ENDPOINT, HF_TOKEN, HF_HUB_OFFLINE).
    public init(environment: [String: String] = ProcessInfo.processInfo.environment,
                progress: (@Sendable (DownloadProgress) -> Void)? = nil, logger: Logger = Logger(label: "colpali.hub")) {
        cache = HubCache(environment: environment)
        endpoint = environment["HF_ENDPOINT"].flatMap { $0.isEmpty ? nil : $0 } ?? "https://huggingface.co"
        var token = environment["HF_TOKEN"] ?? environment["HUGGING_FACE_HUB_TOKEN"]
        if token == nil || token!.isEmpty {
            let home = environment["HF_HOME"].map { URL(fileURLWithPath: $0) }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/huggingface")
            token = (try? String(contentsOf: home.appendingPathComponent("token"), encoding: .utf8))?
                .trimmingCharacters(in: .whitespacesAndNewlines)
        }
        self.token = token?.isEmpty == false ? token : nil
        let flag = (environment["HF_HUB_OFFLINE"] ?? environment["TRANSFORMERS_OFFLINE"] ?? "").uppercased()
        offline = ["1", "ON", "YES", "TRUE"].contains(flag)
        self.progress = progress
        self.logger = logger
    }

    public func locate(_ text: String) async throws -> Located {
        try await locate(ModelReference(text))
    }

    package func locate(_ reference: ModelReference) async throws -> Located {
        switch reference {
        case .directory(let url):
            guard FileManager.default.fileExists(atPath: url.path) else { throw HubError.localPathMissing(url.path) }
            return Located(directory: url, identifier: url.path)
        case .hub(let repository, let revision):
            if let commit = cache.commit(repository, revision: revision) {
                let snapshot = cache.snapshotDirectory(repository, commit: commit)
                if Self.missingFiles(in: snapshot).isEmpty {
                    return Located(directory: snapshot, identifier: "\(repository)@\(commit)")
                }
            }
            if offline {
                let snapshot = cache.commit(repository, revision: revision).map { cache.snapshotDirectory(repository, commit: $0) }
                let missing = snapshot.map(Self.missingFiles(in:)) ?? ["config.json", "model.safetensors", "tokenizer.json"]
                throw HubError.offlineAndMissing(model: reference.description, cache: cache.root.path, missing: missing)
            }
            return try await download(repository, revision: revision)
        }
    }

    /// What a usable snapshot still lacks (empty when complete).
    static func missingFiles(in directory: URL) -> [String] {
        let manager = FileManager.default
        func has(_ file: String) -> Bool { manager.fileExists(atPath: directory.appendingPathComponent(file).path) }
        if has("adapter_config.json") {
            return has("adapter_model.safetensors") ? [] : ["adapter_model.safetensors"]
        }
        var missing: [String] = []
        if !has("config.json") { missing.append("config.json") }
        if !has("tokenizer.json") { missing.append("tokenizer.json") }
        let index = directory.appendingPathComponent("model.safetensors.index.json")
        if let data = try? Data(contentsOf: index),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
           let map = object["weight_map"] as? [String: String] {
            missing += Set(map.values).sorted().filter { !has($0) }
        } else if !has("model.safetensors") {
            missing.append("model.safetensors")
        }
        return missing
    }

    private func download(_ repository: String, revision: String) async throws -> Located {
        let downloader = HubDownloader(endpoint: endpoint, token: token, cache: cache, progress: progress, logger: logger)
        do {
            let located = try await download(repository, revision: revision, with: downloader)
            await downloader.shutdown()
            return located
        } catch {
            await downloader.shutdown()
            throw error
        }
    }

    private func download(_ repository: String, revision: String, with downloader: HubDownloader) async throws -> Located {
        logger.info("resolving model on the Hub", metadata: ["model": "\(repository)@\(revision)", "endpoint": "\(endpoint)"])
        var files: [(String, HubDownloader.FileMetadata)] = []
        let adapter = try await downloader.metadata(repository, revision: revision, file: "adapter_config.json")
        let config = adapter == nil ? try await downloader.metadata(repository, revision: revision, file: "config.json") : nil
        guard let first = adapter ?? config else {
            throw HubError.notFound(model: "\(repository)@\(revision)", file: "config.json or adapter_config.json")
        }
        let commit = first.commit ?? revision
        if let adapter {
            files.append(("adapter_config.json", adapter))
            guard let weights = try await downloader.metadata(repository, revision: commit, file: "adapter_model.safetensors") else {
                throw HubError.notFound(model: repository, file: "adapter_model.safetensors")
            }
            files.append(("adapter_model.safetensors", weights))
        } else if let config {
            files.append(("config.json", config))
            guard let tokenizer = try await downloader.metadata(repository, revision: commit, file: "tokenizer.json") else {
                throw HubError.notFound(model: repository, file: "tokenizer.json")
            }
            files.append(("tokenizer.json", tokenizer))
            if let index = try await downloader.metadata(repository, revision: commit, file: "model.safetensors.index.json") {
                try await downloader.download(repository, revision: commit, commit: commit,
                                              file: "model.safetensors.index.json", metadata: index)
                let indexURL = cache.snapshotDirectory(repository, commit: commit).appendingPathComponent("model.safetensors.index.json")
                let object = try JSONSerialization.jsonObject(with: Data(contentsOf: indexURL)) as? [String: Any]
                for shard in Set(((object?["weight_map"] as? [String: String]) ?? [:]).values).sorted() {
                    guard let meta = try await downloader.metadata(repository, revision: commit, file: shard) else {
                        throw HubError.notFound(model: repository, file: shard)
                    }
                    files.append((shard, meta))
                }
            } else if let weights = try await downloader.metadata(repository, revision: commit, file: "model.safetensors") {
                files.append(("model.safetensors", weights))
            } else {
                throw HubError.notFound(model: repository, file: "model.safetensors")
            }
        }
        for optional in ["tokenizer_config.json", "special_tokens_map.json", "preprocessor_config.json", "processor_config.json"]
        where !files.contains(where: { $0.0 == optional }) {
            if let meta = try await downloader.metadata(repository, revision: commit, file: optional) { files.append((optional, meta)) }
        }
        if adapter != nil, let meta = try await downloader.metadata(repository, revision: commit, file: "tokenizer.json") {
            files.append(("tokenizer.json", meta))
        }
        for (file, meta) in files {
            try await downloader.download(repository, revision: commit, commit: commit, file: file, metadata: meta)
        }
        try cache.recordRef(repository, revision: revision, commit: commit)
        return Located(directory: cache.snapshotDirectory(repository, commit: commit), identifier: "\(repository)@\(commit)")
    }
}
