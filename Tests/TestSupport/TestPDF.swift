import Foundation

/// Small, valid PDFs made in the tests: pages of coloured shapes that differ
/// page by page (so their embeddings differ), optional /Rotate and title.
public enum TestPDF {
    public struct Page {
        public var width: Double
        public var height: Double
        public var rotate: Int
        /// Written as the page's /MediaBox instead of the width and height
        /// (hostile files: huge, negative or malformed boxes).
        public var rawMediaBox: String?
        public init(width: Double = 200, height: Double = 260, rotate: Int = 0, rawMediaBox: String? = nil) {
            self.width = width
            self.height = height
            self.rotate = rotate
            self.rawMediaBox = rawMediaBox
        }
    }

    public static func make(pages: [Page], title: String? = nil, seed: Int = 0) -> Data {
        var objects: [String] = []
        // 1: catalog, 2: pages, 3: font, 4: info; then two objects per page.
        let pageObjects = pages.indices.map { 5 + 2 * $0 }
        objects.append("<< /Type /Catalog /Pages 2 0 R >>")
        objects.append("<< /Type /Pages /Kids [\(pageObjects.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pages.count) >>")
        objects.append("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
        objects.append("<< /Title (\(title ?? "")) /Producer (colpali-pg tests) >>")
        for (index, page) in pages.enumerated() {
            let contentObject = pageObjects[index] + 1
            objects.append("""
                << /Type /Page /Parent 2 0 R /MediaBox \(page.rawMediaBox ?? "[0 0 \(page.width) \(page.height)]") /Rotate \(page.rotate) \
                /Resources << /Font << /F1 3 0 R >> >> /Contents \(contentObject) 0 R >>
                """)
            var content = ""
            for box in 0..<4 {
                let k = Double((seed * 7 + index * 3 + box) % 11) / 10
                content += "\(k) \(1 - k) \(Double(box) / 4) rg \(10 + box * 40 + index * 5) \(20 + box * 30) 60 \(40 + index * 10) re f\n"
            }
            content += "BT /F1 14 Tf 20 \(page.height - 30) Td (Page \(index + 1) of seed \(seed)) Tj ET\n"
            objects.append("<< /Length \(content.utf8.count) >>\nstream\n\(content)endstream")
        }
        var pdf = "%PDF-1.4\n%\u{E2}\u{E3}\u{CF}\u{D3}\n"
        var offsets: [Int] = []
        var data = Data(pdf.utf8)
        for (number, body) in objects.enumerated() {
            offsets.append(data.count)
            data.append(Data("\(number + 1) 0 obj\n\(body)\nendobj\n".utf8))
        }
        let xref = data.count
        pdf = "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R /Info 4 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        data.append(Data(pdf.utf8))
        return data
    }

    /// Writes a PDF into `directory` and returns its path.
    public static func write(_ data: Data, named name: String, in directory: URL) throws -> String {
        let url = directory.appendingPathComponent(name)
        try data.write(to: url)
        return url.path
    }
}
