import Crypto
import Foundation

/// What a request may do.
public enum Scope: String, Sendable, Codable, CaseIterable {
    /// Search, list, read pages and maps.
    case read
    /// Upload and delete documents (a write key reads too).
    case write
}

/// One API key: a bearer token with a name (for logs, never the secret
/// itself) and the scopes it grants.
public struct APIKey: Sendable, Equatable {
    public let name: String
    public let scopes: Set<Scope>
    /// SHA-256 of the token: tokens are compared as digests, in time that
    /// does not depend on where a wrong one differs.
    let digest: [UInt8]

    /// Tokens shorter than this are refused: they could be guessed.
    public static let minimumLength = 16

    public init(name: String, token: String, scopes: Set<Scope>) throws {
        guard token.utf8.count >= Self.minimumLength else { throw APIKeys.ParseError.tokenTooShort(name: name) }
        guard token.unicodeScalars.allSatisfy({ (0x21...0x7e).contains($0.value) && $0 != ";" }) else {
            throw APIKeys.ParseError.tokenCharacters(name: name)
        }
        guard !scopes.isEmpty else { throw APIKeys.ParseError.noScopes(name: name) }
        self.name = name
        // write implies read: an uploader can see what it uploaded.
        self.scopes = scopes.contains(.write) ? [.read, .write] : scopes
        self.digest = Array(SHA256.hash(data: Data(token.utf8)))
    }
}

/// The keys a server accepts, read from a file or an environment variable.
///
/// One key per line (or per `;` in the environment variable):
///
///     # scopes     token                              name
///     read,write   3f6c0a9e1d2b4c5a8e7f6a5b4c3d2e1f   uploader
///     read         9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d   website
///
/// The name is optional (default `key1`, `key2`, ...). Empty lines and
/// lines starting with `#` are skipped.
public struct APIKeys: Sendable, Equatable {
    public let keys: [APIKey]

    public static let none = APIKeys(keys: [])

    public init(keys: [APIKey]) { self.keys = keys }

    public var isEmpty: Bool { keys.isEmpty }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case malformedLine(Int)
        case unknownScope(line: Int, scope: String)
        case tokenTooShort(name: String)
        case tokenCharacters(name: String)
        case noScopes(name: String)
        case duplicateToken(name: String)
        case duplicateName(String)

        public var description: String {
            switch self {
            case .malformedLine(let line): return "line \(line) is not 'SCOPES TOKEN [NAME]'"
            case .unknownScope(let line, let scope): return "line \(line): unknown scope '\(scope)' (read or write)"
            case .tokenTooShort(let name): return "key '\(name)' is shorter than \(APIKey.minimumLength) characters"
            case .tokenCharacters(let name): return "key '\(name)' has characters other than printable ASCII (or a ';')"
            case .noScopes(let name): return "key '\(name)' has no scope"
            case .duplicateToken(let name): return "key '\(name)' repeats the token of another key"
            case .duplicateName(let name): return "two keys are named '\(name)'"
            }
        }
    }

    /// Keys from text in the format above.
    public static func parse(_ text: String) throws -> APIKeys {
        var keys: [APIKey] = []
        let lines = text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == ";" })
        for (index, raw) in lines.enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            guard (2...3).contains(fields.count) else { throw ParseError.malformedLine(index + 1) }
            var scopes: Set<Scope> = []
            for word in fields[0].split(separator: ",") {
                guard let scope = Scope(rawValue: String(word)) else {
                    throw ParseError.unknownScope(line: index + 1, scope: String(word))
                }
                scopes.insert(scope)
            }
            let name = fields.count == 3 ? fields[2] : "key\(keys.count + 1)"
            let key = try APIKey(name: name, token: fields[1], scopes: scopes)
            if keys.contains(where: { $0.digest == key.digest }) { throw ParseError.duplicateToken(name: name) }
            if keys.contains(where: { $0.name == name }) { throw ParseError.duplicateName(name) }
            keys.append(key)
        }
        return APIKeys(keys: keys)
    }

    /// The key whose token this is, if any. Every key is compared whole.
    public func key(for token: some StringProtocol) -> APIKey? {
        let digest = Array(SHA256.hash(data: Data(token.utf8)))
        var found: APIKey?
        for key in keys {
            var difference: UInt8 = 0
            for (a, b) in zip(key.digest, digest) { difference |= a ^ b }
            if difference == 0 { found = key }
        }
        return found
    }
}
