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
        #expect(pdf.pageSize(2) == PDFRenderer.PageSize(width: 260, height: 200))
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

    /// Page boxes come from the file: whatever they say, a page is an error
    /// or an image, never a trap converting a size to an integer.
    @Test(arguments: ["[0 0 99999999999999999999999 99999999999999999999999]", "[0 0 -5 -5]", "[0 0 0 0]",
                      "[0 0 1e400 200]", "[0 0 200 nan]", "[0 0 1 50000000]", "[0 0 x y]"])
    func hostilePageBoxesAreErrorsOrPages(box: String) throws {
        let pdf = try PDFRenderer(data: TestPDF.make(pages: [.init(rawMediaBox: box)]))
        do {
            let image = try pdf.render(page: 1)
            #expect(PixelBudget.allows(width: Double(image.width), height: Double(image.height)))
        } catch let error as PDFError {
            #expect(error.description.contains("over the limit") || error.description.contains("no usable size"), "\(error)")
        }
    }

    @Test(arguments: [Double.nan, .infinity, -.infinity, 1e300, 0, -72, 9.99, 1200.01])
    func resolutionsOutsideTheRangeAreRefused(dpi: Double) throws {
        let pdf = try PDFRenderer(data: TestPDF.make(pages: [.init()]))
        do {
            _ = try pdf.render(page: 1, dpi: dpi)
            Issue.record("rendered at \(dpi) dpi")
        } catch PDFError.invalidDPI {
        }
    }

    @Test func pagesOutsideTheDocumentAreErrors() throws {
        let pdf = try PDFRenderer(data: TestPDF.make(pages: [.init()]))
        for page in [0, 2, -1, Int.max] {
            #expect(throws: PDFError.self) { try pdf.render(page: page) }
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
        // Selecting costs pages x pieces: the pieces are bounded.
        #expect(PageRange(Array(repeating: "1", count: PageRange.maximumPieces).joined(separator: ",")) != nil)
        #expect(PageRange(Array(repeating: "1", count: PageRange.maximumPieces + 1).joined(separator: ",")) == nil)
    }
}

/// `colpali-ingest render` writes what ingest embeds, and its errors are
/// usage errors (64) or failures (1), one line each.
@Suite(.serialized) struct RenderCommandTests {
    let binary = RepositoryPaths.executable("colpali-ingest")

    @Test func writesThePagesIngestWouldEmbed() async throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-render")
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        let result = try await ChildProcess.run(binary, ["render", sample, "--pages", "2-3", "--dpi", "50", "-o", directory.path])
        #expect(result.status == 0, "\(result.error)")
        let renderer = try PDFRenderer(data: Data(contentsOf: URL(fileURLWithPath: sample)))
        for page in [2, 3] {
            let written = try RGBImage.decode(Data(contentsOf: directory.appendingPathComponent("annual-report-\(page).png")))
            #expect(written == (try renderer.render(page: page, dpi: 50)))
            #expect(result.output.contains("annual-report-\(page).png \(written.width)x\(written.height)"))
        }
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("annual-report-1.png").path))
    }

    @Test func errorsAreOneLineWithTheirExitCodes() async throws {
        let sample = RepositoryPaths.root.appendingPathComponent("samples/annual-report.pdf").path
        let cases: [([String], Int32, String)] = [
            (["render", sample, "--dpi", "5"], 64, "--dpi must be in 10...1200"),
            (["render", sample, "--pages", "x"], 64, "--pages 'x' is not a page range"),
            (["render", "/nonexistent.pdf"], 1, "cannot read /nonexistent.pdf: no such file"),
            (["render", sample, "-o", "/proc/colpali"], 1, "/proc/colpali"),
            (["run", "--watch", "/nonexistent"], 64, "--watch /nonexistent is not a directory"),
            (["run", "--allow-root", "/nonexistent"], 64, "allowed root /nonexistent cannot be used: no such file"),
            (["run", "--lease", "1e300"], 64, "--lease must be between 1 and 86400 seconds"),
            (["add", "--batch-size", "0", sample], 64, "--batch-size must be between 1 and 64"),
        ]
        for (arguments, status, text) in cases {
            let result = try await ChildProcess.run(binary, arguments, environment: ["DATABASE_URL": "postgresql://nobody@127.0.0.1:1/x"])
            #expect(result.status == status, "\(arguments): \(result.error)")
            #expect(result.error.split(separator: "\n").count == 1 && result.error.contains(text), "\(arguments): \(result.error)")
        }
    }
}
