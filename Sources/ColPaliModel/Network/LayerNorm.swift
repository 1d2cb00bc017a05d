import ColPaliMath

/// SigLIP's LayerNorm (weight and bias).
struct LayerNorm {
    let weight: [Float]
    let bias: [Float]
    let eps: Float

    init(weights: ModelWeights, prefix: String, eps: Float) throws {
        weight = try weights.floats(prefix + ".weight")
        bias = try weights.floats(prefix + ".bias")
        self.eps = eps
    }

    func apply(_ x: Matrix, into out: Matrix, context: ComputeContext) {
        weight.withUnsafeBufferPointer { w in
            bias.withUnsafeBufferPointer { b in
                let shared = UnsafeSendable((w.baseAddress!, b.baseAddress!))
                context.parallel(x.rows, minimumChunk: 16) { begin, end in
                    colpali_layer_norm(x.pointer, out.pointer, Int32(x.cols), shared.value.0, shared.value.1, eps,
                                       Int32(begin), Int32(end))
                }
            }
        }
    }
}

/// Gemma's RMSNorm: x * rsqrt(mean(x^2) + eps) * (1 + weight).
struct RMSNorm {
    let weight: [Float]
    let eps: Float

    init(weights: ModelWeights, name: String, eps: Float) throws {
        weight = try weights.floats(name)
        self.eps = eps
    }

    func apply(_ x: Matrix, into out: Matrix, context: ComputeContext) {
        weight.withUnsafeBufferPointer { w in
            let shared = UnsafeSendable(w.baseAddress!)
            context.parallel(x.rows, minimumChunk: 16) { begin, end in
                colpali_rms_norm(x.pointer, out.pointer, Int32(x.cols), shared.value, eps, Int32(begin), Int32(end))
            }
        }
    }
}

extension ComputeContext {
    /// y += x, elementwise, in parallel.
    func add(_ y: Matrix, _ x: Matrix) {
        let count = y.rows * y.cols
        parallel(count, minimumChunk: 1 << 16) { begin, end in
            colpali_add(y.pointer, x.pointer, begin, end)
        }
    }
}
