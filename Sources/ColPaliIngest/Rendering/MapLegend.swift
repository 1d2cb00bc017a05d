import CPoppler
import ColPaliModel
import Foundation

/// The legend under a similarity map: the colour ramp from weak to strong
/// match, and the question's tokens with the one drawn marked (all of them
/// when the map is the whole question's). Drawn with cairo, which renders
/// PDFs here already, in the system's sans-serif font.
package enum MapLegend {
    /// Narrow maps are widened to this (on white) so that the legend reads.
    package static let minimumWidth = 360

    /// `color` maps 0...1 to the map's RGB (0...255); `selected` indexes `tokens`.
    package static func draw(under map: RGBImage, tokens: [String], selected: Int?,
                             color: (Float) -> (Float, Float, Float)) -> RGBImage {
        let width = max(map.width, minimumWidth)
        let font = min(max(Double(width) / 48, 12), 28)
        let padding = font * 0.6
        let height = Int((padding * 3 + font * 2.6).rounded(.up))
        guard let surface = cairo_image_surface_create(CAIRO_FORMAT_RGB24, Int32(width), Int32(height)),
              cairo_surface_status(surface) == CAIRO_STATUS_SUCCESS else { return map }
        defer { cairo_surface_destroy(surface) }
        let c = cairo_create(surface)
        defer { cairo_destroy(c) }
        cairo_set_source_rgb(c, 1, 1, 1)
        cairo_paint(c)
        cairo_select_font_face(c, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL)
        cairo_set_font_size(c, font * 0.8)
        func textWidth(_ text: String) -> Double {
            var extents = cairo_text_extents_t()
            cairo_text_extents(c, text, &extents)
            return extents.x_advance
        }

        // Row 1: "weak" [ramp] "strong".
        let rampTop = padding, rampHeight = font * 0.8
        cairo_set_source_rgb(c, 0.35, 0.35, 0.42)
        cairo_move_to(c, padding, rampTop + rampHeight * 0.85)
        cairo_show_text(c, "weak match")
        let rampLeft = padding * 2 + textWidth("weak match")
        let rampWidth = min(Double(width) * 0.4, Double(width) - rampLeft - textWidth("strong match") - padding * 3)
        if rampWidth > 8 {
            for step in 0..<Int(rampWidth) {
                let (r, g, b) = color(Float(step) / Float(max(rampWidth - 1, 1)))
                cairo_set_source_rgb(c, Double(r) / 255, Double(g) / 255, Double(b) / 255)
                cairo_rectangle(c, rampLeft + Double(step), rampTop, 1, rampHeight)
                cairo_fill(c)
            }
        }
        cairo_set_source_rgb(c, 0.35, 0.35, 0.42)
        cairo_move_to(c, rampLeft + max(rampWidth, 0) + padding, rampTop + rampHeight * 0.85)
        cairo_show_text(c, "strong match")

        // Row 2: the tokens, the drawn one in bold and the accent colour; cut with "…" where the width ends.
        cairo_set_font_size(c, font)
        var x = padding
        let baseline = rampTop + rampHeight + padding + font
        for (index, token) in tokens.enumerated() {
            let marked = selected == index
            cairo_select_font_face(c, "sans-serif", CAIRO_FONT_SLANT_NORMAL, marked ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL)
            let advance = textWidth(token)
            if x + advance > Double(width) - padding - textWidth("…") {
                cairo_set_source_rgb(c, 0.35, 0.35, 0.42)
                cairo_move_to(c, x, baseline)
                cairo_show_text(c, "…")
                break
            }
            if marked { cairo_set_source_rgb(c, 0.72, 0.22, 0.47) } else if selected == nil {
                cairo_set_source_rgb(c, 0.11, 0.11, 0.15)
            } else {
                cairo_set_source_rgb(c, 0.55, 0.55, 0.6)
            }
            cairo_move_to(c, x, baseline)
            cairo_show_text(c, token)
            x += advance
        }
        cairo_surface_flush(surface)
        guard let legend = CairoPixels.image(of: surface, width: width, height: height) else { return map }

        // The map (on white where the legend is wider), then the legend.
        var pixels = [UInt8](repeating: 255, count: width * (map.height + height) * 3)
        for y in 0..<map.height {
            let source = y * map.width * 3, target = y * width * 3
            pixels.replaceSubrange(target..<(target + map.width * 3), with: map.pixels[source..<(source + map.width * 3)])
        }
        pixels.replaceSubrange((map.height * width * 3)..<pixels.count, with: legend.pixels)
        return RGBImage(width: width, height: map.height + height, pixels: pixels)
    }
}
