import TensorKit

/// What prompt tuning needs from a frozen CLIP text tower.
///
/// CLIP's `TextTransformer` (CLIP module) can conform with its tokenizer:
/// `encode(sharedPrefix:suffixes:endOfText:)` is `TextTransformer.embed(sharedPrefix:suffixes:endOfText:)`
/// (input embeddings + positional embeddings → causal blocks → ln_final → the state at each row's
/// EOT → projection), `tokenEmbeddings(for:)` is a lookup in its `tokenEmbedding`
/// table, `tokenize` is the BPE encoder without the start/end tokens.
public protocol PromptTextEncoder {
    /// Width of the token embeddings (512 for ViT-B/16's text tower).
    var width: Int { get }
    /// Maximum sequence length including SOT and EOT (77 for CLIP).
    var contextLength: Int { get }
    /// Start-of-text token id (49406 for CLIP).
    var startOfText: Int32 { get }
    /// End-of-text token id (49407 for CLIP).
    var endOfText: Int32 { get }
    /// BPE token ids of `text`, without SOT/EOT (e.g. the tokens of "aquarium_fish." or "a photo of a").
    func tokenize(_ text: String) throws -> [Int32]
    /// Token embeddings [ids.count, width] (rows of the frozen embedding table).
    func tokenEmbeddings(for ids: [Int32]) throws -> Tensor
    /// Runs the frozen tower on B sequences made of the same `sharedPrefix` rows [P, width] followed by
    /// each sequence's `suffixes` rows [B, S, width], and pools sequence b at suffix position
    /// `endOfText[b]`: text embeddings [B, E] (un-normalised). Gradients must flow to the inputs.
    func encode(sharedPrefix: Variable, suffixes: Variable, endOfText: [Int]) throws -> Variable
}
