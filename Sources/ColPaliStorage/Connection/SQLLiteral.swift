/// A text value written into SQL where a statement cannot take a bound
/// parameter (`SET`), as an escape string constant: `E'...'` with
/// backslashes and quotes escaped, which means the same whatever the
/// session's standard_conforming_strings. Nil for text that PostgreSQL
/// cannot hold (a NUL character).
public enum SQLLiteral {
    public static func quote(_ text: String) -> String? {
        guard !text.unicodeScalars.contains("\0") else { return nil }
        var quoted = "E'"
        for character in text.unicodeScalars {
            switch character {
            case "\\": quoted += "\\\\"
            case "'": quoted += "\\'"
            default: quoted.unicodeScalars.append(character)
            }
        }
        return quoted + "'"
    }
}
