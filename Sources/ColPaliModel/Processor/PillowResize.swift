/// Pillow's BICUBIC resize, reproduced exactly: a = -0.5 cubic kernel whose
/// support widens by the scale when shrinking, coefficients normalised to sum
/// 1 in double precision then rounded to 22-bit fixed point, one pass per
/// direction into 8-bit, in Pillow 13's order (see `verticalFirst`). Same
/// arithmetic, same bytes.
package enum PillowResize {
    static let precisionBits = 22

    struct Coefficients {
        var bounds: [(start: Int, count: Int)]
        var weights: [Int32]  // outSize x kernelSize
        var kernelSize: Int
    }

    @inline(__always) static func bicubic(_ value: Double) -> Double {
        let a = -0.5
        let x = abs(value)
        if x < 1 { return ((a + 2) * x - (a + 3)) * x * x + 1 }
        if x < 2 { return (((x - 5) * x + 8) * x - 4) * a }
        return 0
    }

    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1)
        let support = 2.0 * filterScale
        let kernelSize = Int(support.rounded(.up)) * 2 + 1
        var bounds: [(Int, Int)] = []
        var weights = [Int32](repeating: 0, count: outSize * kernelSize)
        var k = [Double](repeating: 0, count: kernelSize)
        for xx in 0..<outSize {
            let center = (Double(xx) + 0.5) * scale
            let ss = 1.0 / filterScale
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inSize) - xmin
            var total = 0.0
            for x in 0..<xmax {
                let w = bicubic((Double(x + xmin) - center + 0.5) * ss)
                k[x] = w
                total += w
            }
            for x in 0..<xmax {
                let w = total != 0 ? k[x] / total : k[x]
                let fixed = w * Double(1 << precisionBits)
                weights[xx * kernelSize + x] = Int32(w < 0 ? fixed - 0.5 : fixed + 0.5)
            }
            bounds.append((xmin, xmax))
        }
        return Coefficients(bounds: bounds, weights: weights, kernelSize: kernelSize)
    }

    @inline(__always) static func clip8(_ accumulator: Int) -> UInt8 {
        let value = accumulator >> precisionBits
        return value < 0 ? 0 : value > 255 ? 255 : UInt8(value)
    }

    package static func resize(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        var current = image
        if verticalFirst(from: (image.width, image.height), to: (width, height)) {
            if height != current.height { current = vertical(current, to: height) }
            if width != current.width { current = horizontal(current, to: width) }
        } else {
            if width != current.width { current = horizontal(current, to: width) }
            if height != current.height { current = vertical(current, to: height) }
        }
        return current
    }

    /// Pillow 13 (libImaging/Resample.c) runs the vertical pass first when the
    /// height shrinks by more than twice what the width does, to make the
    /// horizontal pass cheaper. The 8-bit rounding between the passes makes
    /// the order visible in the bytes (tall pages, phone screenshots).
    static func verticalFirst(from input: (width: Int, height: Int), to output: (width: Int, height: Int)) -> Bool {
        let shrinkY = input.height - output.height, shrinkX = input.width - output.width
        return shrinkY > 0 && shrinkY > shrinkX * 2
    }

    static func horizontal(_ image: RGBImage, to outWidth: Int) -> RGBImage {
        let c = coefficients(inSize: image.width, outSize: outWidth)
        var out = [UInt8](repeating: 0, count: outWidth * image.height * 3)
        let half = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<image.height {
                    let row = y * image.width * 3
                    for xx in 0..<outWidth {
                        let (start, count) = c.bounds[xx]
                        var s0 = half, s1 = half, s2 = half
                        for x in 0..<count {
                            let w = Int(c.weights[xx * c.kernelSize + x])
                            let p = row + (start + x) * 3
                            s0 += Int(src[p]) * w
                            s1 += Int(src[p + 1]) * w
                            s2 += Int(src[p + 2]) * w
                        }
                        let o = (y * outWidth + xx) * 3
                        dst[o] = clip8(s0)
                        dst[o + 1] = clip8(s1)
                        dst[o + 2] = clip8(s2)
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: image.height, pixels: out)
    }

    static func vertical(_ image: RGBImage, to outHeight: Int) -> RGBImage {
        let c = coefficients(inSize: image.height, outSize: outHeight)
        let rowLength = image.width * 3
        var out = [UInt8](repeating: 0, count: rowLength * outHeight)
        let half = 1 << (precisionBits - 1)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for yy in 0..<outHeight {
                    let (start, count) = c.bounds[yy]
                    for i in 0..<rowLength {
                        var s = half
                        for y in 0..<count {
                            s += Int(src[(start + y) * rowLength + i]) * Int(c.weights[yy * c.kernelSize + y])
                        }
                        dst[yy * rowLength + i] = clip8(s)
                    }
                }
            }
        }
        return RGBImage(width: image.width, height: outHeight, pixels: out)
    }
}
