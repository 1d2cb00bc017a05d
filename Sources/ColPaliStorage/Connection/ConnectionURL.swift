import Foundation

extension ConnectionSettings {
    /// Parses a libpq connection URL. Defaults follow libpq: the OS user name,
    /// a database named like the user, port 5432, and the Debian socket
    /// directory when no host is given.
    public init(url: String, defaultUser: String = ProcessInfo.processInfo.userName) throws {
        func fail(_ reason: String) -> StorageError { .invalidDatabaseURL(url, reason: reason) }

        guard let schemeEnd = url.range(of: "://") else { throw fail("missing postgresql:// scheme") }
        let scheme = url[..<schemeEnd.lowerBound].lowercased()
        guard scheme == "postgres" || scheme == "postgresql" else {
            throw fail("unsupported scheme '\(scheme)'")
        }
        var rest = String(url[schemeEnd.upperBound...])
        if let hash = rest.firstIndex(of: "#") { rest = String(rest[..<hash]) }

        var parameters: [String: String] = [:]
        if let question = rest.firstIndex(of: "?") {
            for pair in rest[rest.index(after: question)...].split(separator: "&") where !pair.isEmpty {
                let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard parts.count == 2, let key = Self.percentDecode(parts[0]),
                      let value = Self.percentDecode(parts[1]) else {
                    throw fail("malformed parameter '\(pair)'")
                }
                parameters[key] = value
            }
            rest = String(rest[..<question])
        }

        let authority: Substring
        var databasePart: Substring = ""
        if let slash = rest.firstIndex(of: "/") {
            authority = rest[..<slash]
            databasePart = rest[rest.index(after: slash)...]
        } else {
            authority = Substring(rest)
        }

        var user: String?
        var password: String?
        var hostPort = authority
        if let at = authority.lastIndex(of: "@") {
            let userInfo = authority[..<at]
            hostPort = authority[authority.index(after: at)...]
            if let colon = userInfo.firstIndex(of: ":") {
                user = Self.percentDecode(userInfo[..<colon])
                password = Self.percentDecode(userInfo[userInfo.index(after: colon)...])
            } else {
                user = Self.percentDecode(userInfo)
            }
        }

        var host: String?
        var portText: String?
        if hostPort.hasPrefix("[") {
            guard let close = hostPort.firstIndex(of: "]") else { throw fail("unterminated IPv6 address") }
            host = String(hostPort[hostPort.index(after: hostPort.startIndex)..<close])
            let after = hostPort[hostPort.index(after: close)...]
            if after.hasPrefix(":") { portText = String(after.dropFirst()) }
        } else if let colon = hostPort.lastIndex(of: ":") {
            host = Self.percentDecode(hostPort[..<colon])
            portText = String(hostPort[hostPort.index(after: colon)...])
        } else if !hostPort.isEmpty {
            host = Self.percentDecode(hostPort)
        }

        if let value = parameters["host"] { host = value }
        if let value = parameters["port"] { portText = value }
        if let value = parameters["user"] { user = value }
        if let value = parameters["password"] { password = value }
        var database = Self.percentDecode(databasePart) ?? ""
        if let value = parameters["dbname"] { database = value }

        var port = 5432
        if let portText, !portText.isEmpty {
            guard let parsed = Int(portText), (1...65535).contains(parsed) else {
                throw fail("port '\(portText)' is not a number from 1 to 65535")
            }
            port = parsed
        }

        var tlsMode = TLSMode.prefer
        if let mode = parameters["sslmode"] {
            switch mode {
            case "disable": tlsMode = .disable
            case "allow", "prefer": tlsMode = .prefer
            case "require", "verify-ca": tlsMode = .require
            case "verify-full": tlsMode = .verifyFull
            default: throw fail("unknown sslmode '\(mode)'")
            }
        }

        let username = (user?.isEmpty == false ? user : nil) ?? defaultUser
        let hostName = host?.isEmpty == false ? host! : "/var/run/postgresql"
        let endpoint: Endpoint = hostName.hasPrefix("/")
            ? .unixSocket(path: "\(hostName)/.s.PGSQL.\(port)")
            : .tcp(host: hostName, port: port)
        self.init(endpoint: endpoint, username: username, password: password,
                  database: database.isEmpty ? username : database,
                  tlsMode: hostName.hasPrefix("/") ? .disable : tlsMode)
    }

    private static func percentDecode<S: StringProtocol>(_ text: S) -> String? {
        String(text).removingPercentEncoding
    }
}
