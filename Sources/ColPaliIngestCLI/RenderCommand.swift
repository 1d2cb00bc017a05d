import ArgumentParser
import ColPaliCLISupport
import ColPaliIngest
import ColPaliModel
import Foundation

/// `colpali-ingest render`: the page images ingest would embed, as PNG files.
struct RenderCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "render",
        abstract: "Render PDF pages to PNG exactly as ingest sees them (to check a document before ingesting it).")

    @Argument(help: "A PDF file.") var pdf: String
    @Option(help: "Rendering resolution.") var dpi: Double = PDFRenderer.defaultDPI
    @Option(help: ArgumentHelp("Pages, e.g. 1-3 (default: all).", valueName: "range")) var pages: String?
    @Option(name: .shortAndLong, help: "Output directory.") var output: String = "."

    func validate() throws {
        guard PDFRenderer.dpiRange.contains(dpi) else {
            throw ValidationError("--dpi must be in \(Int(PDFRenderer.dpiRange.lowerBound))...\(Int(PDFRenderer.dpiRange.upperBound))")
        }
        if let pages, PageRange(pages) == nil { throw ValidationError("--pages '\(pages)' is not a page range like 1-5,8") }
    }

    func run() async throws {
        let source = try SourceFile(path: pdf)
        let renderer = try PDFRenderer(data: source.data)
        guard let range = pages.map(PageRange.init) ?? PageRange.all else { throw ValidationError("bad --pages") }
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        let stem = ((pdf as NSString).lastPathComponent as NSString).deletingPathExtension
        for number in range.pages(of: renderer.pageCount) {
            let image = try renderer.render(page: number, dpi: dpi)
            let path = (output as NSString).appendingPathComponent("\(stem)-\(number).png")
            try OutputFile.write(image.pngData(), to: path)
            print("\(path) \(image.width)x\(image.height)")
        }
    }
}
