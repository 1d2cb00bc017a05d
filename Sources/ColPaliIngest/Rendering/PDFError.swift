import ColPaliModel
/// Why a PDF cannot be ingested, in words for the document's error column.
public enum PDFError: Error, CustomStringConvertible, Sendable, Equatable {
    case notAPDF
    case encrypted
    case damaged(String)
    case noPages
    case pageOutOfRange(requested: String, pages: Int)
    case oversizedPage(page: Int, widthPoints: Double, heightPoints: Double, dpi: Double, megapixels: Double)
    case invalidDPI(Double)
    case tooManyPages(selected: Int, limit: Int)

    public var description: String {
        switch self {
        case .notAPDF:
            return "not a PDF file (no %PDF header)"
        case .encrypted:
            return "the PDF is encrypted and needs a password"
        case .damaged(let detail):
            return "the PDF is damaged or truncated and cannot be read (\(detail))"
        case .noPages:
            return "the PDF has no pages"
        case .pageOutOfRange(let requested, let pages):
            return "page range \(requested) selects no page of this \(pages)-page PDF"
        case .oversizedPage(let page, let width, let height, let dpi, let megapixels):
            return String(format: "page %d is %.0f x %.0f points: at %.0f dpi that is %.0f megapixels, over the limit of %@",
                          page, width, height, dpi, megapixels, PixelBudget.description)
        case .tooManyPages(let selected, let limit):
            return "\(selected) pages selected, more than the limit of \(limit) per document; ingest page ranges separately"
        case .invalidDPI(let dpi):
            return "resolution \(dpi) dpi is outside \(Int(PDFRenderer.dpiRange.lowerBound))...\(Int(PDFRenderer.dpiRange.upperBound))"
        }
    }
}
