import CPoppler
import ColPaliModel
import Foundation

/// A PDF opened with poppler-glib, rendered page by page with cairo onto a
/// white background, the page's /Rotate honoured.
public final class PDFRenderer: @unchecked Sendable {
    /// pdf2image's default (what ColPali users feed the processor).
    public static let defaultDPI = 200.0
    /// Resolutions accepted for rendering.
    public static let dpiRange = 10.0...1200.0

    private let document: OpaquePointer
    public let pageCount: Int
    public let title: String?

    public init(data: Data) throws {
        guard data.starts(with: Array("%PDF".utf8)) || data.prefix(1024).range(of: Data("%PDF-".utf8)) != nil else {
            throw PDFError.notAPDF
        }
        var error: UnsafeMutablePointer<GError>?
        let bytes = data.withUnsafeBytes { raw in g_bytes_new(raw.baseAddress, gsize(raw.count)) }
        defer { g_bytes_unref(bytes) }
        guard let document = poppler_document_new_from_bytes(bytes, nil, &error) else {
            let code = error?.pointee.code ?? 0
            let message = error.flatMap { $0.pointee.message.map { String(cString: $0) } } ?? "unknown error"
            if let error { g_error_free(error) }
            if code == Int32(POPPLER_ERROR_ENCRYPTED.rawValue) { throw PDFError.encrypted }
            throw PDFError.damaged(message)
        }
        self.document = document
        pageCount = Int(poppler_document_get_n_pages(document))
        if let raw = poppler_document_get_title(document) {
            let text = String(cString: raw).trimmingCharacters(in: .whitespacesAndNewlines)
            title = text.isEmpty ? nil : text
            g_free(raw)
        } else {
            title = nil
        }
    }

    deinit { g_object_unref(UnsafeMutableRawPointer(document)) }

    /// A page's size in points (1/72 inch) as displayed, i.e. after /Rotate.
    public struct PageSize: Sendable, Equatable {
        public let width: Double
        public let height: Double
    }

    /// Page `number`'s size (zero for a page that cannot be read).
    public func pageSize(_ number: Int) -> PageSize {
        guard number >= 1, number <= pageCount, let page = poppler_document_get_page(document, Int32(number - 1)) else {
            return PageSize(width: 0, height: 0)
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        var width = 0.0, height = 0.0
        poppler_page_get_size(page, &width, &height)
        return PageSize(width: width, height: height)
    }

    /// Renders page `number` (1-based) at `dpi` onto white. The page box
    /// comes from the file, so every size is checked as a Double against
    /// PixelBudget before it becomes an integer.
    public func render(page number: Int, dpi: Double = PDFRenderer.defaultDPI) throws -> RGBImage {
        guard Self.dpiRange.contains(dpi) else { throw PDFError.invalidDPI(dpi) }
        guard number >= 1, number <= pageCount, let page = poppler_document_get_page(document, Int32(number - 1)) else {
            throw PDFError.damaged("page \(number) cannot be read")
        }
        defer { g_object_unref(UnsafeMutableRawPointer(page)) }
        var points = (width: 0.0, height: 0.0)
        poppler_page_get_size(page, &points.width, &points.height)
        guard points.width.isFinite, points.height.isFinite, points.width > 0, points.height > 0 else {
            throw PDFError.damaged("page \(number) has no usable size (\(points.width) x \(points.height) points)")
        }
        let scale = dpi / 72
        let exact = (width: max(1, (points.width * scale).rounded()), height: max(1, (points.height * scale).rounded()))
        guard PixelBudget.allows(width: exact.width, height: exact.height) else {
            throw PDFError.oversizedPage(page: number, widthPoints: points.width, heightPoints: points.height, dpi: dpi,
                                         megapixels: exact.width * exact.height / 1e6)
        }
        let (width, height) = (Int(exact.width), Int(exact.height))
        let megapixels = Double(width) * Double(height) / 1e6
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else {
            throw PDFError.oversizedPage(page: number, widthPoints: points.width, heightPoints: points.height, dpi: dpi,
                                         megapixels: megapixels)
        }
        defer { cairo_surface_destroy(surface) }
        let context = cairo_create(surface)
        cairo_set_source_rgb(context, 1, 1, 1)
        cairo_paint(context)
        cairo_scale(context, Double(width) / points.width, Double(height) / points.height)
        poppler_page_render(page, context)
        cairo_destroy(context)
        cairo_surface_flush(surface)

        guard let image = CairoPixels.image(of: surface, width: width, height: height) else {
            throw PDFError.damaged("page \(number) rendered empty")
        }
        return image
    }
}
