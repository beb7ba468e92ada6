#if canImport(CLIP)
import CLIP
import TensorKit

/// CLIP's frozen text tower and BPE tokenizer as the `PromptTextEncoder` that prompt tuning needs.
///
/// `encode` is `TextTransformer.embed(sharedPrefix:suffixes:endOfText:)`: positional embeddings, the
/// causal blocks, ln_final, the state at each row's EOT, the text projection. The tower's weights
/// must be frozen (`requiresGrad == false`, as the checkpoint loader makes them), so gradients
/// flow through the tower to the prompt context without being computed for the weights.
/// (Compiled only where the CLIP module is available.)
public struct CLIPPromptEncoder: PromptTextEncoder {
    public let tower: TextTransformer
    public let tokenizer: CLIPTokenizer

    public init(tower: TextTransformer, tokenizer: CLIPTokenizer) {
        self.tower = tower
        self.tokenizer = tokenizer
    }

    public var width: Int { tower.config.text.width }
    public var contextLength: Int { tower.config.contextLength }
    public var startOfText: Int32 { tokenizer.startOfTextID }
    public var endOfText: Int32 { tokenizer.endOfTextID }

    /// BPE ids of `text` without the SOT/EOT that `CLIPTokenizer.encode` adds.
    public func tokenize(_ text: String) throws -> [Int32] {
        Array(tokenizer.encode(text).dropFirst().dropLast())
    }

    public func tokenEmbeddings(for ids: [Int32]) throws -> Tensor {
        try tower.tokenEmbedding.value.gather(rows: ids.map(Int.init), indexShape: [ids.count])
    }

    public func encode(sharedPrefix: Variable, suffixes: Variable, endOfText: [Int]) throws -> Variable {
        try tower.embed(sharedPrefix: sharedPrefix, suffixes: suffixes, endOfText: endOfText)
    }
}
#endif
