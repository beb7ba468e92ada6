/// Scales the gradients so that their global L2 norm is at most `maxNorm`, like
/// `torch.nn.utils.clip_grad_norm_`: with `norm` the L2 norm over all non-nil gradients together,
/// every gradient is multiplied by `maxNorm / (norm + 1e-6)` when that is below 1.
///
/// Returns the norm before clipping. The sum of squares is accumulated in Double. If the norm is
/// not finite the gradients are left unchanged (torch would scale them by NaN or 0); check the
/// returned value to skip such a step.
@discardableResult
public func clipGradientNorm(_ gradients: inout [Tensor?], maxNorm: Float) -> Float {
    var sumOfSquares: Double = 0
    for gradient in gradients {
        guard let gradient else { continue }
        gradient.storage.withUnsafeBufferPointer { g in
            // Four independent Double accumulators: exact enough, and not latency-bound.
            var a0: Double = 0, a1: Double = 0, a2: Double = 0, a3: Double = 0
            var k = 0
            while k + 4 <= g.count {
                let x0 = Double(g[k]), x1 = Double(g[k + 1]), x2 = Double(g[k + 2]), x3 = Double(g[k + 3])
                a0 += x0 * x0; a1 += x1 * x1; a2 += x2 * x2; a3 += x3 * x3
                k += 4
            }
            while k < g.count { let x = Double(g[k]); a0 += x * x; k += 1 }
            sumOfSquares += (a0 + a1) + (a2 + a3)
        }
    }
    let norm = Float(sumOfSquares.squareRoot())
    let scale = maxNorm / (norm + 1e-6)
    guard norm.isFinite, scale < 1 else { return norm }
    for i in gradients.indices {
        guard gradients[i] != nil else { continue }
        gradients[i]!.storage.withUnsafeMutableBufferPointer { g in
            for k in 0..<g.count { g[k] *= scale }
        }
    }
    return norm
}
