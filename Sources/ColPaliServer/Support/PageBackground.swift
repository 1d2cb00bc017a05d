import ColPaliIngest
import ColPaliModel
import ColPaliSearch
import ColPaliStorage
import Foundation

/// The picture of a stored page: the image kept at ingest, else the page
/// rendered again from its source file when that file is still there,
/// unchanged (its SHA-256 still the one stored).
package enum PageBackground {
    package enum Failure: Error, CustomStringConvertible, Equatable {
        /// No image was stored and the source cannot be read.
        case sourceUnreadable(page: Int, path: String, reason: String)
        /// No image was stored and the source changed since ingest.
        case sourceChanged(page: Int, path: String)

        package var description: String {
            switch self {
            case .sourceUnreadable(let page, let path, let reason):
                return "page \(page) has no stored image and its source \(path) cannot be read (\(reason))"
            case .sourceChanged(let page, let path):
                return "page \(page) has no stored image and its source \(path) changed since it was ingested"
            }
        }
    }


    /// The page as pixels, at the size the model saw; `rendered` says
    /// whether it came from the source file rather than the database.
    package static func image(of page: StoredPage) throws -> (image: RGBImage, rendered: Bool) {
        if let image = page.image { return (try RGBImage.decode(image.data, source: "page \(page.pageID)"), false) }
        let path = SourceURI.path(of: page.sourceURI)
        let source: SourceFile
        do {
            source = try SourceFile(path: path)
        } catch {
            throw Failure.sourceUnreadable(page: page.pageID, path: path, reason: "\(error)")
        }
        guard source.contentHash == page.contentHash else { throw Failure.sourceChanged(page: page.pageID, path: path) }
        if source.kind == .pdf {
            let pdf = try PDFRenderer(data: source.data)
            let points = pdf.pageSize(page.pageNumber)
            let dpi = min(max(72 * Double(page.width) / max(points.width, 1), PDFRenderer.dpiRange.lowerBound),
                          PDFRenderer.dpiRange.upperBound)
            return (try pdf.render(page: page.pageNumber, dpi: dpi), true)
        }
        return (try RGBImage.decode(source.data, source: path), true)
    }
}
