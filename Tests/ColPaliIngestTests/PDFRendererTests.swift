@testable import ColPaliIngest
import ColPaliModel
import Foundation
import Testing
import TestSupport

struct PDFRendererTests {
    @Test func rendersPagesOnWhiteWithTheirRotation() throws {
        let data = TestPDF.make(pages: [.init(width: 200, height: 260), .init(width: 200, height: 260, rotate: 90)],
                                title: "Quarterly report")
        let pdf = try PDFRenderer(data: data)
        #expect(pdf.pageCount == 2)
        #expect(pdf.title == "Quarterly report")
        let first = try pdf.render(page: 1, dpi: 72)
        #expect(first.width == 200 && first.height == 260)
        // Corner pixel: the white background (nothing is drawn there).
        #expect(Array(first.pixels[0..<3]) == [255, 255, 255])
        // Something was drawn.
        #expect(first.pixels.contains { $0 < 200 })
        let rotated = try pdf.render(page: 2, dpi: 144)
        #expect(rotated.width == 520 && rotated.height == 400)
        #expect(pdf.pageSize(2) == (width: 260, height: 200))
        // The default resolution is pdf2image's.
        #expect(try pdf.render(page: 1).width == Int((200.0 * 200 / 72).rounded()))
    }

    @Test func badPDFsAreNamedErrors() throws {
        let good = TestPDF.make(pages: [.init()])
        #expect(throws: PDFError.notAPDF) { try PDFRenderer(data: Data("hello, not a pdf".utf8)) }
        #expect(throws: PDFError.encrypted) {
            try PDFRenderer(data: Data(contentsOf: Fixtures.root.appendingPathComponent("pdf/encrypted.pdf")))
        }
        do {
            _ = try PDFRenderer(data: good.prefix(good.count / 3))
            Issue.record("truncated PDF opened")
        } catch let error as PDFError {
            guard case .damaged = error else { Issue.record("\(error)"); return }
        }
        let empty = try PDFRenderer(data: TestPDF.make(pages: []))
        #expect(empty.pageCount == 0)
        let huge = try PDFRenderer(data: TestPDF.make(pages: [.init(width: 14400, height: 14400)]))
        do {
            _ = try huge.render(page: 1)
            Issue.record("oversized page rendered")
        } catch let error as PDFError {
            #expect(error.description.contains("megapixels"))
        }
    }

    @Test func pageRanges() {
        #expect(PageRange("1-3,5")?.pages(of: 10) == [1, 2, 3, 5])
        #expect(PageRange("8-")?.pages(of: 10) == [8, 9, 10])
        #expect(PageRange("-2,2,9")?.pages(of: 5) == [1, 2])
        #expect(PageRange.all.pages(of: 3) == [1, 2, 3])
        #expect(PageRange("0") == nil)
        #expect(PageRange("3-1") == nil)
        #expect(PageRange("x") == nil)
    }
}
