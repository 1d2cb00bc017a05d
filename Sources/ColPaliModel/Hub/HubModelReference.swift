import Foundation

/// `--model` values: a local directory, or a Hub id `org/name` with an
/// optional `@revision` (branch, tag or commit).
package enum ModelReference: Sendable, Equatable {
    case directory(URL)
    case hub(repository: String, revision: String)

    package init(_ text: String) throws {
        let expanded = (text as NSString).expandingTildeInPath
        let looksLikePath = text.hasPrefix("/") || text.hasPrefix(".") || text.hasPrefix("~")
        if looksLikePath || FileManager.default.fileExists(atPath: expanded) {
            self = .directory(URL(fileURLWithPath: expanded).standardizedFileURL)
            return
        }
        var repository = text
        var revision = "main"
        if let at = text.lastIndex(of: "@") {
            repository = String(text[..<at])
            revision = String(text[text.index(after: at)...])
        }
        let parts = repository.split(separator: "/", omittingEmptySubsequences: false)
        let allowed = CharacterSet.alphanumerics.union(CharacterSet(charactersIn: "-_."))
        guard (1...2).contains(parts.count), !revision.isEmpty,
              parts.allSatisfy({ !$0.isEmpty && $0.unicodeScalars.allSatisfy(allowed.contains) && !$0.hasPrefix(".") }) else {
            throw HubError.invalidReference(text)
        }
        self = .hub(repository: repository, revision: revision)
    }

    package var description: String {
        switch self {
        case .directory(let url): return url.path
        case .hub(let repository, let revision): return revision == "main" ? repository : "\(repository)@\(revision)"
        }
    }
}
