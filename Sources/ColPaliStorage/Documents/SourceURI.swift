import Foundation

/// How a document's source is named in `documents.source_uri` and
/// `ingest_jobs.source_uri`: a file:// URI of the absolute path.
public enum SourceURI {
    /// file:// URI of `path` made absolute; a file:// URI is kept as it is.
    public static func of(path: String) -> String {
        if path.hasPrefix("file://") { return path }
        return URL(fileURLWithPath: path).standardizedFileURL.absoluteString
    }

    /// The local path a source names: a file:// URI's path, or the text as a plain path.
    public static func path(of uri: String) -> String {
        if uri.hasPrefix("file://"), let url = URL(string: uri) { return url.path }
        return uri
    }
}
