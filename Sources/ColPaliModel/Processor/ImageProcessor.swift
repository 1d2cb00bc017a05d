import Foundation

/// SigLIP's image preprocessing, as transformers' Pillow path
/// (`SiglipImageProcessorPil`) does it: resize to size x size with Pillow's
/// BICUBIC (aspect ratio not kept, no crop), x / 255, (x - mean) / std,
/// channels first.
package struct ImageProcessor: Sendable, Equatable {
    package var size: Int
    package var mean: [Float]
    package var std: [Float]
    package var rescaleFactor: Double

    package init(size: Int, mean: [Float] = [0.5, 0.5, 0.5], std: [Float] = [0.5, 0.5, 0.5],
                rescaleFactor: Double = 1.0 / 255.0) {
        self.size = size
        self.mean = mean
        self.std = std
        self.rescaleFactor = rescaleFactor
    }

    /// Reads `processor_config.json` (image processor nested, transformers 5)
    /// or `preprocessor_config.json` (flat, older); the model's image size
    /// when neither says.
    package static func load(directory: URL, imageSize: Int) throws -> ImageProcessor {
        var processor = ImageProcessor(size: imageSize)
        for name in ["processor_config.json", "preprocessor_config.json"] {
            let url = directory.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let root = try JSONObject.load(url)
            let json = root.object("image_processor") ?? root
            if let sizes = json.object("size") {
                let height = try sizes.int("height", default: imageSize)
                let width = try sizes.int("width", default: height)
                guard height == width else {
                    throw CheckpointError.invalidConfiguration(file: url.path, reason: "non-square image size \(width)x\(height)")
                }
                processor.size = height
            }
            if let mean = json.values["image_mean"] as? [NSNumber], mean.count == 3 { processor.mean = mean.map(\.floatValue) }
            if let std = json.values["image_std"] as? [NSNumber], std.count == 3 { processor.std = std.map(\.floatValue) }
            processor.rescaleFactor = try json.double("rescale_factor", default: processor.rescaleFactor)
            if let resample = json.values["resample"] as? NSNumber, resample.intValue != 3 {
                throw CheckpointError.invalidConfiguration(file: url.path, reason: "resample \(resample) is not BICUBIC (3)")
            }
            break
        }
        return processor
    }

    /// The resized 8-bit image (what Pillow's resize returns).
    package func resized(_ image: RGBImage) -> RGBImage {
        PillowResize.resize(image, width: size, height: size)
    }

    /// Pixel values [3, size, size], float32, channels first.
    package func pixelValues(_ image: RGBImage) -> [Float] {
        let small = resized(image)
        let plane = size * size
        var out = [Float](repeating: 0, count: 3 * plane)
        for p in 0..<plane {
            for c in 0..<3 {
                // float32(float64(u8) * rescale), then (x - mean) / std in float32.
                let x = Float(Double(small.pixels[3 * p + c]) * rescaleFactor)
                out[c * plane + p] = (x - mean[c]) / std[c]
            }
        }
        return out
    }
}
