/// The most pixels a page may have once rendered or decoded: one budget for
/// PDF pages and PNG/JPEG images, checked from the page size or the image
/// header before anything that large is allocated. 100 megapixels holds an A0
/// poster at 200 dpi (62 MP); decoding one costs about 700 MB at the peak.
public enum PixelBudget {
    public static let maximumPixels = 100_000_000
    /// Longest side, whatever the area (cairo and libpng refuse more anyway).
    public static let maximumSide = 30_000

    /// Whether a width x height page fits. Any Doubles are accepted (sizes
    /// computed from a PDF's page box may be huge, NaN or infinite); nothing
    /// is converted to an integer before it is known to fit.
    public static func allows(width: Double, height: Double) -> Bool {
        guard width.isFinite, height.isFinite, width >= 1, height >= 1 else { return false }
        return width <= Double(maximumSide) && height <= Double(maximumSide)
            && width * height <= Double(maximumPixels)
    }

    /// "100 megapixels": the limit as people read it.
    public static var description: String { "\(maximumPixels / 1_000_000) megapixels (at most \(maximumSide) on a side)" }
}
