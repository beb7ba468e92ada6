import Continual
import TensorKit

/// A tiny frozen "text tower" for prompt-tuning tests: token + positional embeddings → one pre-LN
/// causal transformer block (2 heads, GELU MLP) → final LayerNorm → the state at each row's EOT →
/// projection to `embedDimension`. Random weights from a fixed seed; nothing requires gradients,
/// so only the input embeddings (the prompt context) receive them.
struct FakeTextEncoder: PromptTextEncoder {
    let width = 8
    let contextLength = 24
    let embedDimension: Int
    let vocabularySize = 32
    var startOfText: Int32 { 30 }
    var endOfText: Int32 { 31 }
    /// Token id of ".".
    let period: Int32 = 29

    let tokenTable: Tensor         // [vocab, width]
    let positional: Variable       // [context, width]
    let weights: [String: Variable]
    let projection: Variable       // [embed, width]

    init(embedDimension: Int, seed: UInt64 = 11) {
        self.embedDimension = embedDimension
        var rng = RandomGenerator(seed: seed)
        let w = width
        func normal(_ shape: [Int], _ std: Float) -> Variable { Variable(Tensor.normal(shape: shape, std: std, using: &rng)) }
        tokenTable = Tensor.normal(shape: [vocabularySize, w], std: 0.5, using: &rng)
        positional = normal([contextLength, w], 0.1)
        var p: [String: Variable] = [:]
        p["ln1.weight"] = Variable(Tensor(unchecked: [w], storage: (0..<w).map { _ in 1 + 0.1 * rng.normal() }))
        p["ln1.bias"] = normal([w], 0.1)
        for name in ["q", "k", "v", "o"] {
            p["\(name).weight"] = normal([w, w], 0.4)
            p["\(name).bias"] = normal([w], 0.1)
        }
        p["ln2.weight"] = Variable(Tensor(unchecked: [w], storage: (0..<w).map { _ in 1 + 0.1 * rng.normal() }))
        p["ln2.bias"] = normal([w], 0.1)
        p["fc1.weight"] = normal([2 * w, w], 0.4)
        p["fc1.bias"] = normal([2 * w], 0.1)
        p["fc2.weight"] = normal([w, 2 * w], 0.3)
        p["fc2.bias"] = normal([w], 0.1)
        p["lnf.weight"] = Variable(Tensor(unchecked: [w], storage: (0..<w).map { _ in 1 + 0.1 * rng.normal() }))
        p["lnf.bias"] = normal([w], 0.1)
        weights = p
        projection = normal([embedDimension, w], 0.4)
    }

    /// Words → ids 1…28 by a fixed hash; "." → 29. No SOT/EOT.
    func tokenize(_ text: String) throws -> [Int32] {
        var ids: [Int32] = []
        for word in text.lowercased().split(separator: " ") {
            var w = Substring(word)
            let endsWithPeriod = w.hasSuffix(".")
            if endsWithPeriod { w = w.dropLast() }
            if !w.isEmpty {
                var h = 0
                for (i, u) in w.unicodeScalars.enumerated() { h = (h + Int(u.value) * (i + 1)) % 28 }
                ids.append(Int32(h + 1))
            }
            if endsWithPeriod { ids.append(period) }
        }
        return ids
    }

    func tokenEmbeddings(for ids: [Int32]) throws -> Tensor {
        try tokenTable.gather(rows: ids.map(Int.init), indexShape: [ids.count])
    }

    /// Runs the whole sequences (prefix repeated per row, then the suffix): no prefix sharing here,
    /// so tests through this tower check the prompt construction independently of that shortcut.
    func encode(sharedPrefix: Variable, suffixes: Variable, endOfText suffixEOT: [Int]) throws -> Variable {
        let (b, prefixLength) = (suffixes.shape[0], sharedPrefix.shape[0])
        let repeated = try Variable(Tensor(zeros: [b, prefixLength, width])) + sharedPrefix
        let x0 = try Variable.concatenate([repeated, suffixes], axis: 1)
        let eot = suffixEOT.map { $0 + prefixLength }
        let length = x0.shape[1]
        let p = weights
        func linear(_ x: Variable, _ name: String) throws -> Variable {
            try Variable.linear(x, weight: p["\(name).weight"]!, bias: p["\(name).bias"]!)
        }
        var x = try x0 + (try positional.slice(axis: 0, 0..<length))
        let h = try x.layerNorm(weight: p["ln1.weight"]!, bias: p["ln1.bias"]!)
        let a = try Variable.attention(query: try linear(h, "q"), key: try linear(h, "k"), value: try linear(h, "v"),
                                       heads: 2, mask: .causal)
        x = try x + (try linear(a, "o"))
        let h2 = try x.layerNorm(weight: p["ln2.weight"]!, bias: p["ln2.bias"]!)
        x = try x + (try linear(try linear(h2, "fc1").gelu(), "fc2"))
        x = try x.layerNorm(weight: p["lnf.weight"]!, bias: p["lnf.bias"]!)
        let pooled = try x.reshaped([b * length, width])
            .gather(rows: eot.enumerated().map { $0.offset * length + $0.element }, indexShape: [b])
        return try Variable.linear(pooled, weight: projection, bias: nil)
    }
}
