@testable import ColPaliModel
import Foundation
import Testing
import TestSupport

/// Pixel parity with transformers' Pillow path (SiglipImageProcessorPil).
struct ImageProcessorParityTests {
    static let sources = ["rgb_large.png", "rgb_small.png", "odd_57x31.png", "tiny_3x5.png", "grey.png", "palette.png",
                          "palette_trns.png", "rgba.png", "one_1x1.png", "photo.jpg"]

    @Test(arguments: sources)
    func pixelValuesAtSize56(source: String) throws {
        let reference = try SafeTensorsFile(url: Fixtures.reference("pixels.safetensors"))
        let expected = reference.floats(try #require(reference["pixels.\(source)"]))
        let image = try RGBImage.load(contentsOf: Fixtures.image(source), alpha: .compositeOnWhite)
        let actual = ImageProcessor(size: 56).pixelValues(image)
        #expect(actual.count == expected.count && !expected.isEmpty)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 0
        #expect(worst <= 1e-6, "\(source): max difference \(worst)")
    }

    /// The two pages every model fixture embeds: decoded and resized here,
    /// they must be the pixels the reference model was given.
    @Test(arguments: [0, 1])
    func documentPagesMatchTheReferencePixels(index: Int) throws {
        let reference = try SafeTensorsFile(url: Fixtures.reference("hf.safetensors"))
        let all = reference.floats(try #require(reference["doc.pixel_values"]))
        let per = all.count / 2
        let expected = Array(all[(index * per)..<((index + 1) * per)])
        let image = try RGBImage.load(contentsOf: Fixtures.image("doc\(index).png"))
        let actual = ImageProcessor(size: 56).pixelValues(image)
        #expect(actual.count == expected.count)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-6, "doc\(index).png: max difference \(worst)")
    }

    @Test func engineDropsAlpha() throws {
        let reference = try SafeTensorsFile(url: Fixtures.reference("pixels.safetensors"))
        let expected = reference.floats(try #require(reference["pixels_dropalpha.rgba.png"]))
        let image = try RGBImage.load(contentsOf: Fixtures.image("rgba.png"), alpha: PromptFormat.engine_0_3_13.alphaHandling)
        let actual = ImageProcessor(size: 56).pixelValues(image)
        #expect(actual.count == expected.count && !expected.isEmpty)
        let worst = zip(actual, expected).map { abs($0 - $1) }.max() ?? 1
        #expect(worst <= 1e-6)
    }

    @Test(arguments: ["odd_57x31.png", "tiny_3x5.png", "rgba.png", "photo.jpg", "one_1x1.png", "rgba.png.dropalpha"])
    func resizedTo448ByteForByte(source: String) throws {
        let dropAlpha = source.hasSuffix(".dropalpha")
        let file = dropAlpha ? String(source.dropLast(".dropalpha".count)) : source
        let expected = try RGBImage.load(contentsOf: Fixtures.reference("resized448/\(source).png"))
        let image = try RGBImage.load(contentsOf: Fixtures.image(file), alpha: dropAlpha ? .dropAlpha : .compositeOnWhite)
        let resized = ImageProcessor(size: 448).resized(image)
        #expect(resized.width == 448 && resized.height == 448)
        #expect(resized.pixels.count == expected.pixels.count)
        let differing = zip(resized.pixels, expected.pixels).filter { $0 != $1 }.count
        #expect(differing == 0, "\(source): \(differing) bytes differ")
    }

    @Test(arguments: [("photo.jpg", "photo.jpg.png", AlphaHandling.compositeOnWhite),
                      ("rgba.png", "rgba.png.png", .compositeOnWhite),
                      ("rgba.png", "rgba.png.dropalpha.png", .dropAlpha),
                      ("palette_trns.png", "palette_trns.png.png", .dropAlpha),
                      ("palette_trns.png", "palette_trns.png.png", .compositeOnWhite)])
    func decodingMatchesPillow(source: String, decoded: String, alpha: AlphaHandling) throws {
        let expected = try RGBImage.load(contentsOf: Fixtures.reference("decoded/\(decoded)"))
        let actual = try RGBImage.load(contentsOf: Fixtures.image(source), alpha: alpha)
        #expect(actual.width == expected.width && actual.height == expected.height)
        #expect(actual.pixels == expected.pixels)
    }

    @Test func badImagesAreClearErrors() throws {
        let directory = try RepositoryPaths.temporaryDirectory("colpali-img")
        let text = directory.appendingPathComponent("notes.png")
        try Data("hello".utf8).write(to: text)
        #expect(throws: ImageDecodingError.self) { try RGBImage.load(contentsOf: text) }
        let truncated = directory.appendingPathComponent("cut.png")
        let png = try Data(contentsOf: Fixtures.image("rgb_large.png"))
        try png.prefix(png.count / 2).write(to: truncated)
        do {
            _ = try RGBImage.load(contentsOf: truncated)
            Issue.record("truncated PNG decoded")
        } catch let error as ImageDecodingError {
            #expect(error.description.contains("cut.png"))
        }
        let jpeg = try Data(contentsOf: Fixtures.image("photo.jpg"))
        try jpeg.prefix(200).write(to: directory.appendingPathComponent("cut.jpg"))
        #expect(throws: ImageDecodingError.self) { try RGBImage.load(contentsOf: directory.appendingPathComponent("cut.jpg")) }
    }

    @Test func pngRoundTrip() throws {
        let image = try RGBImage.load(contentsOf: Fixtures.image("odd_57x31.png"))
        #expect(try RGBImage.decode(image.pngData()) == image)
        let jpeg = try RGBImage.decode(image.jpegData(quality: 95))
        #expect(jpeg.width == image.width && jpeg.height == image.height)
    }
}
