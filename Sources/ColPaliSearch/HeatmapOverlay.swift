import ColPaliModel
import Foundation

/// Draws a similarity map over its page: the grid upsampled bicubically to
/// the page's size (as colpali-engine does), coloured with a dark-to-bright
/// ramp, and blended so that strong matches stand out while the page stays
/// readable.
public enum HeatmapOverlay {
    /// Colour stops from cold to hot (a magma-like ramp).
    static let stops: [(Float, (Float, Float, Float))] = [
        (0.00, (0, 0, 4)), (0.25, (81, 18, 124)), (0.50, (183, 55, 121)), (0.75, (252, 137, 97)), (1.00, (252, 253, 191)),
    ]

    package static func color(_ v: Float) -> (Float, Float, Float) {
        let x = min(max(v, 0), 1)
        for i in 1..<stops.count where x <= stops[i].0 {
            let (a, ca) = stops[i - 1], (b, cb) = stops[i]
            let t = (x - a) / (b - a)
            return (ca.0 + (cb.0 - ca.0) * t, ca.1 + (cb.1 - ca.1) * t, ca.2 + (cb.2 - ca.2) * t)
        }
        return stops[stops.count - 1].1
    }

    /// `map` holds grid * grid values in [0, 1].
    public static func draw(_ map: [Float], grid: Int, over page: RGBImage) -> RGBImage {
        // The map as an 8-bit image, so Pillow's BICUBIC resize upsamples it.
        let small = RGBImage(width: grid, height: grid, pixels: map.flatMap { value -> [UInt8] in
            let byte = UInt8(min(max(value, 0), 1) * 255)
            return [byte, byte, byte]
        })
        let large = PillowResize.resize(small, width: page.width, height: page.height)
        var pixels = page.pixels
        for p in 0..<(page.width * page.height) {
            let v = Float(large.pixels[3 * p]) / 255
            let (r, g, b) = color(v)
            let alpha = 0.15 + 0.45 * v
            pixels[3 * p] = UInt8(Float(pixels[3 * p]) * (1 - alpha) + r * alpha)
            pixels[3 * p + 1] = UInt8(Float(pixels[3 * p + 1]) * (1 - alpha) + g * alpha)
            pixels[3 * p + 2] = UInt8(Float(pixels[3 * p + 2]) * (1 - alpha) + b * alpha)
        }
        return RGBImage(width: page.width, height: page.height, pixels: pixels)
    }
}
