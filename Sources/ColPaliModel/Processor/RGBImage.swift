import ColPaliImageCodecs
import Foundation

/// 8-bit RGB pixels, row-major, interleaved.
public struct RGBImage: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var pixels: [UInt8]

    public init(width: Int, height: Int, pixels: [UInt8]) {
        precondition(pixels.count == width * height * 3)
        self.width = width
        self.height = height
        self.pixels = pixels
    }
}

public enum ImageDecodingError: Error, CustomStringConvertible, Sendable, Equatable {
    case unsupportedFormat(String)
    case corrupt(String, reason: String)
    /// The header announces more pixels than PixelBudget allows.
    case tooLarge(String, width: Int, height: Int)

    public var description: String {
        switch self {
        case .unsupportedFormat(let source): return "\(source): not a PNG or JPEG image"
        case .corrupt(let source, let reason): return "\(source): cannot decode image: \(reason)"
        case .tooLarge(let source, let width, let height):
            return "\(source): image of \(width) x \(height) pixels is over the limit of \(PixelBudget.description)"
        }
    }
}

extension RGBImage {
    /// Decodes PNG or JPEG bytes (the format is sniffed) and converts to RGB
    /// as Pillow does: grey and palette expanded, transparency per `alpha`.
    public static func decode(_ data: Data, source: String = "image", alpha: AlphaHandling = .compositeOnWhite) throws -> RGBImage {
        var image = colpali_image()
        var message = [CChar](repeating: 0, count: 256)
        let status: Int32 = data.withUnsafeBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            let (pixels, side) = (PixelBudget.maximumPixels, Int32(PixelBudget.maximumSide))
            if data.starts(with: [0x89, 0x50, 0x4E, 0x47]) {
                return colpali_decode_png(bytes.baseAddress, bytes.count, pixels, side, &image, &message, message.count)
            } else if data.starts(with: [0xFF, 0xD8]) {
                return colpali_decode_jpeg(bytes.baseAddress, bytes.count, pixels, side, &image, &message, message.count)
            }
            return -2
        }
        if status == -2 { throw ImageDecodingError.unsupportedFormat(source) }
        if status == COLPALI_IMAGE_TOO_LARGE {
            throw ImageDecodingError.tooLarge(source, width: Int(image.width), height: Int(image.height))
        }
        guard status == 0 else { throw ImageDecodingError.corrupt(source, reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        defer { colpali_image_free(&image) }
        let count = Int(image.width) * Int(image.height)
        let rgba = UnsafeBufferPointer(start: image.rgba, count: count * 4)
        let composite = image.has_alpha_channel != 0
            ? alpha == .compositeOnWhite
            : image.has_transparency_chunk != 0
        var pixels = [UInt8](repeating: 0, count: count * 3)
        for p in 0..<count {
            let a = Int(rgba[4 * p + 3])
            for c in 0..<3 {
                let value = rgba[4 * p + c]
                pixels[3 * p + c] = composite ? Self.overWhite(value, alpha: a) : value
            }
        }
        return RGBImage(width: Int(image.width), height: Int(image.height), pixels: pixels)
    }

    /// Pillow's integer `alpha_composite` of one channel over opaque white.
    @inline(__always) static func overWhite(_ channel: UInt8, alpha a: Int) -> UInt8 {
        if a == 255 { return channel }
        if a == 0 { return 255 }
        let coef1 = a * 255 * 255 * 128 / (a * 255 + 255 * (255 - a))
        let coef2 = 255 * 128 - coef1
        let t = Int(channel) * coef1 + 255 * coef2 + (128 << 7)
        return UInt8(truncatingIfNeeded: (((t >> 8) + t) >> 8) >> 7)
    }

    public static func load(contentsOf url: URL, alpha: AlphaHandling = .compositeOnWhite) throws -> RGBImage {
        let data: Data
        do { data = try Data(contentsOf: url) } catch {
            throw ImageDecodingError.corrupt(url.path, reason: "cannot read the file (\(error.localizedDescription))")
        }
        return try decode(data, source: url.path, alpha: alpha)
    }

    /// PNG bytes of this image (for stored page images and similarity maps).
    public func pngData(compressionLevel: Int = 6) throws -> Data {
        try encode { pixels, out, length, message in
            colpali_encode_png(pixels, Int32(width), Int32(height), 3, Int32(compressionLevel), out, length, message, 256)
        }
    }

    /// JPEG bytes of this image.
    public func jpegData(quality: Int = 90) throws -> Data {
        try encode { pixels, out, length, message in
            colpali_encode_jpeg(pixels, Int32(width), Int32(height), 3, Int32(quality), out, length, message, 256)
        }
    }

    private func encode(_ body: (UnsafePointer<UInt8>?, UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>,
                                 UnsafeMutablePointer<Int>, UnsafeMutablePointer<CChar>) -> Int32) throws -> Data {
        var out: UnsafeMutablePointer<UInt8>?
        var length = 0
        var message = [CChar](repeating: 0, count: 256)
        let status = pixels.withUnsafeBufferPointer { body($0.baseAddress, &out, &length, &message) }
        guard status == 0, let out else { throw ImageDecodingError.corrupt("encoder", reason: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)) }
        defer { free(out) }
        return Data(bytes: out, count: length)
    }
}
