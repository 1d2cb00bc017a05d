/// One spelling for every tensor, whatever wrote the checkpoint.
///
/// transformers 5.x writes `vlm.vision_tower.embeddings...` and
/// `vlm.language_model.model.layers...`; older transformers
/// `vlm.vision_tower.vision_model...`; colpali-engine bases
/// `model.vision_tower.vision_model...` and `custom_text_proj`; PEFT adapters
/// prefix `base_model.model.` (and peft 0.20 on transformers 5 adds
/// `model.model.`). All become e.g. `vision_tower.encoder.layers.0...`,
/// `language_model.layers.0...`, `embedding_proj_layer.weight`.
package enum WeightNames {
    /// The canonical name, or nil for tensors the model does not use (lm_head).
    package static func canonical(_ name: String) -> String? {
        if name.contains("lm_head") { return nil }
        var n = Substring(name)
        var stripped = true
        while stripped {
            stripped = false
            for prefix in ["base_model.model.", "vlm.", "model."] where n.hasPrefix(prefix) {
                n = n.dropFirst(prefix.count)
                stripped = true
            }
        }
        var result = String(n)
        if result.hasPrefix("vision_tower.vision_model.") {
            result = "vision_tower." + result.dropFirst("vision_tower.vision_model.".count)
        }
        if result.hasPrefix("language_model.model.") {
            result = "language_model." + result.dropFirst("language_model.model.".count)
        }
        if result.hasPrefix("custom_text_proj.") {
            result = "embedding_proj_layer." + result.dropFirst("custom_text_proj.".count)
        }
        return result
    }
}
