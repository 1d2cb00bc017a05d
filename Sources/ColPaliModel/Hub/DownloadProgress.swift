/// How far a model download has got, reported to ModelLocator's `progress`
/// callback (the library draws nothing itself; the command-line tools draw a
/// bar on a terminal).
public struct DownloadProgress: Sendable, Equatable {
    /// `org/name/file`.
    public let file: String
    /// Bytes on disk so far, a resumed download's earlier bytes included.
    public let bytes: Int
    /// The file's size, when the Hub said.
    public let total: Int?
    /// The last update of this file.
    public let finished: Bool

    public init(file: String, bytes: Int, total: Int?, finished: Bool) {
        self.file = file
        self.bytes = bytes
        self.total = total
        self.finished = finished
    }
}
