/// GELU (exact, erf form) and QuickGELU (x·σ(1.702x), used by OpenAI CLIP weights).

public enum Activation: String, Codable, Sendable {
    case gelu
    case quickGELU = "quick_gelu"

    /// Parses the names used by HF configs (`hidden_act`) and open_clip.
    public init?(configName: String) {
        switch configName {
        case "gelu", "gelu_new", "gelu_pytorch_tanh": self = .gelu
        case "quick_gelu", "quickgelu": self = .quickGELU
        default: return nil
        }
    }
}

extension Tensor {
    public func gelu() -> Tensor { map(geluValue) }
    public func quickGELU() -> Tensor { map(quickGELUValue) }

    public func activated(_ a: Activation) -> Tensor {
        switch a {
        case .gelu: gelu()
        case .quickGELU: quickGELU()
        }
    }
}

/// x·Φ(x).
@inline(__always)
func geluValue(_ x: Vec16) -> Vec16 { x * 0.5 * (1 + verf(x * 0.7071067811865476)) }

/// x·σ(1.702x).
@inline(__always)
func quickGELUValue(_ x: Vec16) -> Vec16 { x * vsigmoid(x * 1.702) }

/// d/dx of GELU: Φ(x) + x·φ(x).
@inline(__always)
func geluDerivative(_ x: Vec16) -> Vec16 {
    let cdf = 0.5 * (1 + verf(x * 0.7071067811865476))
    let pdf = vexp(-0.5 * x * x) * 0.3989422804014327
    return cdf + x * pdf
}

/// d/dx of QuickGELU: σ(ax) + a·x·σ(ax)(1 − σ(ax)), a = 1.702.
@inline(__always)
func quickGELUDerivative(_ x: Vec16) -> Vec16 {
    let s = vsigmoid(x * 1.702)
    return s + 1.702 * x * s * (1 - s)
}
