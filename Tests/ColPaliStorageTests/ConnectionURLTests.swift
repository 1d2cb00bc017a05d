@testable import ColPaliStorage
import Testing

struct ConnectionURLTests {
    @Test func fullTCPURL() throws {
        let s = try ConnectionSettings(url: "postgresql://alice:s%40cret@db.example.com:6543/docs?sslmode=require")
        #expect(s.endpoint == .tcp(host: "db.example.com", port: 6543))
        #expect(s.username == "alice")
        #expect(s.password == "s@cret")
        #expect(s.database == "docs")
        #expect(s.tlsMode == .require)
        #expect(!s.redacted.contains("cret"))
    }

    @Test func unixSocketInQueryParameter() throws {
        let s = try ConnectionSettings(url: "postgresql:///colpali?host=/tmp/x/run&user=colpali")
        #expect(s.endpoint == .unixSocket(path: "/tmp/x/run/.s.PGSQL.5432"))
        #expect(s.username == "colpali")
        #expect(s.database == "colpali")
        #expect(s.tlsMode == .disable)
    }

    @Test func percentEncodedSocketDirectoryAndPort() throws {
        let s = try ConnectionSettings(url: "postgres://bob@%2Fvar%2Frun%2Fpostgresql:5433/db")
        #expect(s.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5433"))
    }

    @Test func defaultsFollowLibpq() throws {
        let s = try ConnectionSettings(url: "postgresql://", defaultUser: "carol")
        #expect(s.username == "carol")
        #expect(s.database == "carol")
        #expect(s.endpoint == .unixSocket(path: "/var/run/postgresql/.s.PGSQL.5432"))
        let ipv6 = try ConnectionSettings(url: "postgresql://u@[::1]:5000/d")
        #expect(ipv6.endpoint == .tcp(host: "::1", port: 5000))
    }

    @Test(arguments: ["mysql://x", "postgresql//x", "postgresql://h:notaport/d", "postgresql://h/d?sslmode=bogus",
                      "postgresql://h:70000/d"])
    func rejectsMalformedURLs(url: String) {
        #expect(throws: StorageError.self) { try ConnectionSettings(url: url) }
    }
}
