import CPoppler
import ColPaliModel

/// Cairo's RGB24 image surfaces as RGB bytes.
package enum CairoPixels {
    /// RGB24 is one native-endian 32-bit word per pixel: 0x00RRGGBB.
    package static func image(of surface: OpaquePointer, width: Int, height: Int) -> RGBImage? {
        let stride = Int(cairo_image_surface_get_stride(surface))
        guard let data = cairo_image_surface_get_data(surface) else { return nil }
        var pixels = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            let row = UnsafeRawPointer(data + y * stride)
            for x in 0..<width {
                let word = row.loadUnaligned(fromByteOffset: x * 4, as: UInt32.self)
                let o = (y * width + x) * 3
                pixels[o] = UInt8((word >> 16) & 0xFF)
                pixels[o + 1] = UInt8((word >> 8) & 0xFF)
                pixels[o + 2] = UInt8(word & 0xFF)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }
}
