import NIOCore
import Testing
@testable import ColPaliServer

/// Who may do what, decided without a server.
@Suite struct AccessPolicyTests {
    static let readToken = "read-token-0123456789abcdef"
    static let writeToken = "write-token-0123456789abcdef"
    let policy = AccessPolicy(keys: try! APIKeys.parse("""
        # a comment, then two keys
        read \(readToken) website

        read,write \(writeToken) uploader
        """))

    @Test func anonymousCallersReadFromThisMachineOnly() throws {
        let local = try policy.caller(authorization: nil, isLocal: true).get()
        #expect(local == .init(keyName: nil, scopes: [.read]))
        #expect(policy.check(local, needs: .read) == nil)
        #expect(policy.check(local, needs: .write) != nil)
        guard case .failure(.unauthenticated(let message)) = policy.caller(authorization: nil, isLocal: false) else {
            Issue.record("a remote caller without a key was let in")
            return
        }
        #expect(message.contains("API key is required"))
    }

    @Test func keysGrantTheirScopesFromAnywhere() throws {
        let reader = try policy.caller(authorization: "Bearer \(Self.readToken)", isLocal: false).get()
        #expect(reader.keyName == "website" && policy.check(reader, needs: .read) == nil)
        #expect(policy.check(reader, needs: .write) == .forbidden("the API key 'website' does not have the write scope"))
        let writer = try policy.caller(authorization: "bearer \(Self.writeToken)", isLocal: false).get()
        #expect(writer.scopes == [.read, .write])
    }

    @Test func aWrongOrMalformedKeyIsRefusedEvenLocally() {
        for header in ["Bearer not-a-key-at-all-0000000", "Basic dXNlcjpwYXNz", "Bearer", Self.readToken,
                       "Bearer \(Self.readToken)x", "Bearer \(Self.readToken.dropLast())"] {
            guard case .failure(.unauthenticated) = policy.caller(authorization: header, isLocal: true) else {
                Issue.record("'\(header)' was accepted")
                continue
            }
        }
    }

    @Test func keyFilesWithMistakesAreRefusedWithTheReason() throws {
        #expect(throws: APIKeys.ParseError.tokenTooShort(name: "key1")) { try APIKeys.parse("read short") }
        #expect(throws: APIKeys.ParseError.unknownScope(line: 2, scope: "admin")) {
            try APIKeys.parse("read 0123456789abcdef0\nadmin 0123456789abcdef1")
        }
        #expect(throws: APIKeys.ParseError.malformedLine(1)) { try APIKeys.parse("0123456789abcdef0") }
        #expect(throws: APIKeys.ParseError.duplicateToken(name: "b")) {
            try APIKeys.parse("read 0123456789abcdef0 a; write 0123456789abcdef0 b")
        }
        #expect(throws: APIKeys.ParseError.duplicateName("a")) {
            try APIKeys.parse("read 0123456789abcdef0 a; write 0123456789abcdef1 a")
        }
        #expect(throws: APIKeys.ParseError.tokenCharacters(name: "key1")) { try APIKeys.parse("read 0123456789abcdéf0") }
        let names = try APIKeys.parse("read 0123456789abcdef0; read,write 0123456789abcdef1").keys.map(\.name)
        #expect(names == ["key1", "key2"])
    }

    @Test func onlyLoopbackAndUnixSocketsCountAsThisMachine() throws {
        #expect(ServerContext.isLocal(try SocketAddress(ipAddress: "127.0.0.1", port: 1)))
        #expect(ServerContext.isLocal(try SocketAddress(ipAddress: "127.8.9.10", port: 1)))
        #expect(ServerContext.isLocal(try SocketAddress(ipAddress: "::1", port: 1)))
        #expect(ServerContext.isLocal(try SocketAddress(unixDomainSocketPath: "/tmp/x.sock")))
        #expect(!ServerContext.isLocal(try SocketAddress(ipAddress: "10.0.0.1", port: 1)))
        #expect(!ServerContext.isLocal(try SocketAddress(ipAddress: "128.0.0.1", port: 1)))
        #expect(!ServerContext.isLocal(try SocketAddress(ipAddress: "::2", port: 1)))
        #expect(!ServerContext.isLocal(try SocketAddress(ipAddress: "192.168.1.127", port: 1)))
    }
}

@Suite struct RateLimiterTests {
    @Test func aBurstPassesThenCallersWaitUntilTheBucketRefills() {
        let limiter = RateLimiter(limit: .init(perSecond: 2, burst: 3))
        let start = ContinuousClock.now
        #expect((0..<3).allSatisfy { _ in limiter.admit("a", now: start) == nil })
        let wait = limiter.admit("a", now: start)
        #expect(wait == .milliseconds(500))
        // Another caller has its own bucket.
        #expect(limiter.admit("b", now: start) == nil)
        // Half a second later one request's worth has come back, and only one.
        #expect(limiter.admit("a", now: start + .milliseconds(500)) == nil)
        #expect(limiter.admit("a", now: start + .milliseconds(500)) != nil)
        // Long idle: a full burst again, never more.
        let later = start + .seconds(60)
        #expect((0..<3).allSatisfy { _ in limiter.admit("a", now: later) == nil })
        #expect(limiter.admit("a", now: later) != nil)
    }

    /// A flood of callers (one request each from fresh addresses) does not
    /// grow memory without bound: full buckets are forgotten.
    @Test func aFloodOfCallersIsForgottenOnceTheirBucketsRefill() {
        let limiter = RateLimiter(limit: .init(perSecond: 10, burst: 20))
        let start = ContinuousClock.now
        for i in 0..<(RateLimiter.sweepThreshold + 1) { _ = limiter.admit("ip:\(i)", now: start) }
        #expect(limiter.trackedCallers == RateLimiter.sweepThreshold + 1)
        // Three seconds on, every bucket is full again: the next newcomer sweeps them.
        #expect(limiter.admit("ip:late", now: start + .seconds(3)) == nil)
        #expect(limiter.trackedCallers == 1)
    }
}

@Suite struct QuestionTokensTests {
    @Test func thePromptAndPaddingAreNotShown() {
        let tokens = ["<bos>", "Question", ":", "▁What", "▁is", "▁shown", "?"] + Array(repeating: "<pad>", count: 10) + ["\n"]
        let shown = QuestionTokens.shown(tokens, format: .transformers)
        #expect(shown == [3, 4, 5, 6])
        #expect(shown.map { QuestionTokens.display(tokens[$0]) }.joined() == " What is shown?")
        let bare = ["<bos>", "What", "▁time", ":", "▁now"] + Array(repeating: "<pad>", count: 10)
        #expect(QuestionTokens.shown(bare, format: .engine_0_3_13) == [1, 2, 3, 4])
    }
}
