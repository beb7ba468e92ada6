import TensorKit

/// CLIP's text tower (follows OpenAI `clip/model.py` encode_text and HF `CLIPTextTransformer`).
///
/// token ids [B, L] → token + positional embeddings → causal blocks → ln_final → the hidden state
/// at each sequence's first end-of-text token → projection. Attention is causal and positions are
/// absolute, so positions after the last EOT of the batch cannot influence any pooled state: the
/// tower runs only the first max(EOT)+1 positions, which is exact and much cheaper for short prompts.
public struct TextTransformer: Sendable {
    public static let endOfText: Int32 = 49407

    public var config: CLIPConfig
    public var tokenEmbedding: Variable       // [vocab, width]
    public var positionalEmbedding: Variable  // [context, width]
    public var blocks: [ResidualAttentionBlock]
    public var finalLayerNorm: LayerNorm
    public var projection: Linear             // [embed, width], no bias

    /// Text embeddings [B, embed] for rows of token ids (each row must contain an EOT token).
    public func callAsFunction(_ ids: [[Int32]]) throws(TensorError) -> Tensor {
        try embed(ids).value
    }

    public func embed(_ ids: [[Int32]]) throws(TensorError) -> Variable {
        var eot: [Int] = []
        for (r, row) in ids.enumerated() {
            guard row.count <= config.contextLength else {
                throw .invalidArgument(op: "TextTransformer", reason: "row \(r) has \(row.count) tokens, context length is \(config.contextLength)")
            }
            guard let e = row.firstIndex(of: Self.endOfText) else {
                throw .invalidArgument(op: "TextTransformer", reason: "row \(r) has no end-of-text token (49407)")
            }
            if let bad = row.first(where: { $0 < 0 || Int($0) >= config.vocabularySize }) {
                throw .invalidArgument(op: "TextTransformer", reason: "token id \(bad) outside the vocabulary of \(config.vocabularySize)")
            }
            eot.append(e)
        }
        guard !ids.isEmpty else { throw .invalidArgument(op: "TextTransformer", reason: "no texts") }
        let length = eot.max()! + 1
        let flat = ids.flatMap { $0.prefix(length).map(Int.init) + [Int](repeating: 0, count: max(0, length - $0.count)) }
        let tokens = try tokenEmbedding.gather(rows: flat, indexShape: [ids.count, length])
        return try embed(tokenEmbeddings: tokens, endOfText: eot)
    }

    /// Runs the tower on given input embeddings [B, L, width] (token embeddings, or learned prompt
    /// vectors spliced in) and pools at `endOfText[b]`. Gradients flow to the inputs when they need them.
    public func embed(tokenEmbeddings x0: Variable, endOfText eot: [Int]) throws(TensorError) -> Variable {
        guard x0.value.rank == 3, x0.shape[2] == config.text.width, x0.shape[0] == eot.count else {
            throw .shapeMismatch(op: "TextTransformer", shapes: [x0.shape, [eot.count, -1, config.text.width]], reason: "input embeddings must be [B, L, width]")
        }
        let length = x0.shape[1]
        guard length <= config.contextLength, eot.allSatisfy({ $0 >= 0 && $0 < length }) else {
            throw .invalidArgument(op: "TextTransformer", reason: "sequence length \(length) or EOT positions \(eot) outside the context of \(config.contextLength)")
        }
        var x = try x0 + (try positionalEmbedding.slice(axis: 0, 0..<length))
        for block in blocks { x = try block(x, mask: .causal) }
        return try pooled(x, endOfText: eot)
    }

    /// ln_final, then the state of sequence b at position eot[b] of x [B, L, W], projected.
    func pooled(_ x: Variable, endOfText eot: [Int]) throws(TensorError) -> Variable {
        let (b, length, w) = (x.shape[0], x.shape[1], x.shape[2])
        // Flat row index b·L + eot[b] of the [B·L, W] view.
        let rows = try finalLayerNorm(x).reshaped([b * length, w])
        return try projection(try rows.gather(rows: eot.enumerated().map { $0.offset * length + $0.element }, indexShape: [b]))
    }

    /// The tower on B sequences that share their first rows: `sharedPrefix` [P, width] (SOT and the
    /// learned prompt context), then each sequence's `suffixes` row block [B, S, width] (class-name
    /// tokens, EOT, padding), pooled at suffix position `endOfText[b]`. Exactly `embed(tokenEmbeddings:)`
    /// on the concatenated rows, but the prefix runs once instead of B times (causal attention).
    public func embed(sharedPrefix: Variable, suffixes: Variable, endOfText eot: [Int]) throws(TensorError) -> Variable {
        let w = config.text.width
        guard sharedPrefix.value.rank == 2, sharedPrefix.shape[1] == w, sharedPrefix.shape[0] >= 1,
              suffixes.value.rank == 3, suffixes.shape[2] == w, suffixes.shape[0] == eot.count else {
            throw .shapeMismatch(op: "TextTransformer", shapes: [sharedPrefix.shape, suffixes.shape],
                                 reason: "need a prefix [P, \(w)] and suffixes [\(eot.count), S, \(w)]")
        }
        let (p, s) = (sharedPrefix.shape[0], suffixes.shape[1])
        guard p + s <= config.contextLength, eot.allSatisfy({ $0 >= 0 && $0 < s }) else {
            throw .invalidArgument(op: "TextTransformer", reason: "prefix \(p) + suffix \(s) positions or EOT positions \(eot) outside the context of \(config.contextLength)")
        }
        var prefix = try sharedPrefix + (try positionalEmbedding.slice(axis: 0, 0..<p))
        var suffix = try suffixes + (try positionalEmbedding.slice(axis: 0, p..<(p + s)))
        for block in blocks { (prefix, suffix) = try block(prefix: prefix, suffix: suffix) }
        return try pooled(suffix, endOfText: eot)
    }
}
