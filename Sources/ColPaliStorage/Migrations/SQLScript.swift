/// Splits a SQL script into statements at top-level semicolons.
///
/// PostgresNIO speaks only the extended query protocol, which takes one
/// statement at a time, so migration files are split here. The lexer knows
/// what can hide a semicolon in PostgreSQL: 'strings' (with '' and E'\''
/// escapes), "identifiers", $tag$ dollar quotes $tag$, -- line comments and
/// nested /* block */ comments.
public enum SQLScript {
    public static func statements(_ script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var i = 0

        func emit() {
            let text = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if hasCode && !text.isEmpty { statements.append(text) }
            current = String.UnicodeScalarView()
            hasCode = false
        }
        func take(_ count: Int) {
            for k in 0..<count where i + k < chars.count { current.append(chars[i + k]) }
            i += count
        }
        func at(_ offset: Int) -> Unicode.Scalar? { i + offset < chars.count ? chars[i + offset] : nil }

        while i < chars.count {
            let c = chars[i]
            switch c {
            case ";":
                i += 1
                emit()
            case "-" where at(1) == "-":
                while i < chars.count && chars[i] != "\n" { take(1) }
            case "/" where at(1) == "*":
                var depth = 0
                repeat {
                    if at(0) == "/" && at(1) == "*" { depth += 1; take(2) }
                    else if at(0) == "*" && at(1) == "/" { depth -= 1; take(2) }
                    else { take(1) }
                } while depth > 0 && i < chars.count
            case "'":
                hasCode = true
                // E'...' strings treat backslash as an escape.
                let escapes = i > 0 && (chars[i - 1] == "E" || chars[i - 1] == "e")
                take(1)
                while i < chars.count {
                    if escapes && chars[i] == "\\" { take(2); continue }
                    if chars[i] == "'" {
                        if at(1) == "'" { take(2); continue }
                        take(1)
                        break
                    }
                    take(1)
                }
            case "\"":
                hasCode = true
                take(1)
                while i < chars.count {
                    if chars[i] == "\"" {
                        if at(1) == "\"" { take(2); continue }
                        take(1)
                        break
                    }
                    take(1)
                }
            case "$":
                hasCode = true
                if let tag = dollarTag(chars, at: i) {
                    take(tag.count)
                    while i < chars.count && !matches(chars, at: i, tag) { take(1) }
                    take(tag.count)
                } else {
                    take(1)
                }
            default:
                if !c.properties.isWhitespace { hasCode = true }
                take(1)
            }
        }
        emit()
        return statements
    }

    /// `$$` or `$name$` starting at `i`, or nil (e.g. a `$1` parameter).
    private static func dollarTag(_ chars: [Unicode.Scalar], at i: Int) -> [Unicode.Scalar]? {
        if i > 0, chars[i - 1].properties.isAlphabetic || chars[i - 1] == "_" || ("0"..."9").contains(chars[i - 1]) {
            return nil  // part of an identifier such as a$b
        }
        var j = i + 1
        while j < chars.count, chars[j] != "$" {
            let c = chars[j]
            let ok = c.properties.isAlphabetic || c == "_" || (j > i + 1 && ("0"..."9").contains(c))
            if !ok { return nil }
            j += 1
        }
        guard j < chars.count else { return nil }
        return Array(chars[i...j])
    }

    private static func matches(_ chars: [Unicode.Scalar], at i: Int, _ tag: [Unicode.Scalar]) -> Bool {
        guard i + tag.count <= chars.count else { return false }
        for k in 0..<tag.count where chars[i + k] != tag[k] { return false }
        return true
    }
}
