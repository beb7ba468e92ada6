import Foundation

/// A tokenizer failure: an unreadable or malformed vocabulary/merges file, or text longer than the context in
/// `.error` truncation mode. `description` is one line naming the file (and line) or the text involved.
public struct TokenizerError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// What `tokenize` does with text longer than the context.
public enum TruncationMode: Sendable {
    /// Keep `[SOT] + first (contextLength − 2) tokens + [EOT]` (open_clip, OpenAI `truncate=True`, HF).
    case truncate
    /// Throw `TokenizerError` (OpenAI `clip.tokenize` default).
    case error
}

/// The CLIP byte-level BPE tokenizer (clip.md §3): cleaning → pre-tokenisation → BPE → `[SOT] + ids + [EOT]`.
///
/// Immutable apart from an internal lock-protected BPE cache, so one instance can be shared across threads.
public final class CLIPTokenizer: Sendable {
    /// Ids of `<|startoftext|>` / `<|endoftext|>` in the standard vocabulary. A tokenizer loaded from other files
    /// reports its own in `startOfTextID` / `endOfTextID`.
    public static let startOfText: Int32 = 49406, endOfText: Int32 = 49407
    /// CLIP's text context.
    public static let defaultContextLength = 77
    /// Entries in the standard vocabulary.
    public static let standardVocabularySize = 49_408

    public let cleaning: TextCleaning
    /// Padding id after EOT: 0 by default for `.openai` cleaning (`clip.tokenize`), EOT for `.huggingface`.
    public let padID: Int32
    public var startOfTextID: Int32 { model.startOfTextID }
    public var endOfTextID: Int32 { model.endOfTextID }
    /// Number of distinct tokens (49,408 for the standard vocabulary).
    public var vocabularySize: Int { model.vocabularySize }
    /// Number of merge rules in effect (48,894 for the standard vocabulary).
    public var mergeCount: Int { model.mergeCount }

    let model: ByteLevelBPE
    private let cache = BPECache()

    init(model: ByteLevelBPE, cleaning: TextCleaning, padID: Int32?) {
        self.model = model
        self.cleaning = cleaning
        self.padID = padID ?? (cleaning == .openai ? 0 : model.endOfTextID)
    }

    // MARK: Loading

    /// URL of the bundled `bpe_simple_vocab_16e6.txt.gz` (MIT, © 2021 OpenAI; notice next to it).
    public static var bundledMergesURL: URL? {
        Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz", subdirectory: "Resources")
    }

    /// The standard model is parsed once per process and shared by every `standard(...)` tokenizer.
    private static let standardModel: Result<ByteLevelBPE, TokenizerError> = {
        guard let url = bundledMergesURL else {
            return .failure(TokenizerError("bundled resource Resources/bpe_simple_vocab_16e6.txt.gz not found"))
        }
        do {
            let model = try loadModel(mergesFile: url, vocabFile: nil)
            guard model.vocabularySize == standardVocabularySize, model.startOfTextID == startOfText,
                  model.endOfTextID == endOfText
            else {
                return .failure(TokenizerError(
                    "\(url.path): expected \(standardVocabularySize) tokens with SOT/EOT at 49406/49407, found "
                        + "\(model.vocabularySize) with \(model.startOfTextID)/\(model.endOfTextID)"))
            }
            return .success(model)
        } catch let error as TokenizerError {
            return .failure(error)
        } catch {
            return .failure(TokenizerError("\(url.path): \(error)"))
        }
    }()

    /// Standard vocabulary from the bundled `bpe_simple_vocab_16e6.txt.gz`.
    public static func standard(cleaning: TextCleaning = .openai, padID: Int32? = nil) throws -> CLIPTokenizer {
        CLIPTokenizer(model: try standardModel.get(), cleaning: cleaning, padID: padID)
    }

    /// From a merges file — the OpenAI `bpe_simple_vocab_16e6.txt` (gzipped or not; merge lines `[1, 48895)`) or an
    /// HF `merges.txt` (`#version` header skipped, all merges taken) — and optionally an HF `vocab.json` to take ids
    /// from. Without a vocabulary, ids follow the OpenAI rules (bytes, bytes + `</w>`, merges, SOT, EOT).
    public init(mergesFile: URL, vocabFile: URL?, cleaning: TextCleaning, padID: Int32? = nil) throws {
        let model = try Self.loadModel(mergesFile: mergesFile, vocabFile: vocabFile)
        self.model = model
        self.cleaning = cleaning
        self.padID = padID ?? (cleaning == .openai ? 0 : model.endOfTextID)
    }

    /// From an HF `tokenizer.json` (`model.vocab` + `model.merges`; merges as `"a b"` strings or `["a", "b"]`).
    public convenience init(tokenizerJSON: URL, cleaning: TextCleaning, padID: Int32? = nil) throws {
        let source = tokenizerJSON.path
        let (vocab, merges) = try TokenizerFiles.parseTokenizerJSON(TokenizerFiles.read(tokenizerJSON), source: source)
        let model = try ByteLevelBPE(tokenToID: vocab, mergePairs: merges, source: source)
        self.init(model: model, cleaning: cleaning, padID: padID)
    }

    private static func loadModel(mergesFile: URL, vocabFile: URL?) throws -> ByteLevelBPE {
        let merges = try TokenizerFiles.parseMerges(TokenizerFiles.read(mergesFile), source: mergesFile.path)
        guard let vocabFile else { return try ByteLevelBPE(mergePairs: merges, source: mergesFile.path) }
        let vocab = try TokenizerFiles.parseVocabJSON(TokenizerFiles.read(vocabFile), source: vocabFile.path)
        return try ByteLevelBPE(tokenToID: vocab, mergePairs: merges, source: vocabFile.path)
    }

    // MARK: Encoding

    /// `[SOT] + tokens + [EOT]`, without padding or truncation.
    public func encode(_ text: String) -> [Int32] {
        let cleaned = cleaning.cleanScalars(text)
        var ids: [Int32] = [model.startOfTextID]
        ids.reserveCapacity(cleaned.count + 2)
        for piece in PreTokenizer.split(cleaned, ignoreCase: cleaning == .openai) {
            switch piece.kind {
            case .startOfText: ids.append(model.startOfTextID)
            case .endOfText: ids.append(model.endOfTextID)
            case .text: ids.append(contentsOf: bpe(cleaned[piece.range]))
            }
        }
        ids.append(model.endOfTextID)
        return ids
    }

    /// Exactly `contextLength` ids: `encode(text)`, truncated (`[SOT] + first contextLength − 2 tokens + [EOT]`) or
    /// rejected when too long, then padded with `padID`.
    public func tokenize(_ text: String, contextLength: Int = CLIPTokenizer.defaultContextLength,
                         truncation: TruncationMode = .truncate) throws -> [Int32] {
        guard contextLength >= 2 else {
            throw TokenizerError("context length \(contextLength) cannot hold start and end tokens")
        }
        var ids = encode(text)
        if ids.count > contextLength {
            switch truncation {
            case .error:
                let preview = text.count > 60 ? String(text.prefix(57)) + "..." : text
                throw TokenizerError("input is \(ids.count) tokens, more than the context length \(contextLength): "
                                     + preview.debugDescription)
            case .truncate:
                ids.removeLast(ids.count - contextLength)
                ids[contextLength - 1] = model.endOfTextID
            }
        }
        ids.append(contentsOf: repeatElement(padID, count: contextLength - ids.count))
        return ids
    }

    /// `tokenize` for each text.
    public func tokenize(_ texts: [String], contextLength: Int = CLIPTokenizer.defaultContextLength,
                         truncation: TruncationMode = .truncate) throws -> [[Int32]] {
        try texts.map { try tokenize($0, contextLength: contextLength, truncation: truncation) }
    }

    /// The BPE pieces of `encode(text)` as token strings in the byte alphabet, e.g. `["<|startoftext|>", "cat</w>",
    /// "<|endoftext|>"]`.
    public func pieces(_ text: String) -> [String] {
        encode(text).map { model.token(for: $0) ?? "" }
    }

    /// Id of a token string (`"cat</w>"`), if it is in the vocabulary.
    public func id(forToken token: String) -> Int32? {
        model.tokenToID[token]
    }

    /// Token string of an id, if the vocabulary has it.
    public func token(forID id: Int32) -> String? {
        model.token(for: id)
    }

    /// Inverse mapping as in `simple_tokenizer.py`: token strings joined, byte alphabet mapped back to bytes,
    /// UTF-8 decoded with replacement characters, `</w>` → space. Special tokens appear as their text; ids outside
    /// the vocabulary are skipped. Padding is not removed.
    public func decode(_ ids: [Int32]) -> String {
        var bytes = [UInt8]()
        for id in ids {
            guard let token = model.token(for: id) else { continue }
            for scalar in token.unicodeScalars {
                if let b = ByteAlphabet.byte(for: scalar) { bytes.append(b) }
            }
        }
        return String(decoding: bytes, as: UTF8.self).replacingOccurrences(of: "</w>", with: " ")
    }

    private func bpe(_ scalars: ArraySlice<Unicode.Scalar>) -> [Int32] {
        // Keyed by UTF-8 bytes, not String: String equality is canonical equivalence, and canonically equivalent
        // pieces with different scalars (U+0340 vs U+0300) have different bytes and so different BPE.
        var key = [UInt8]()
        key.reserveCapacity(scalars.count)
        for scalar in scalars { key.append(contentsOf: UTF8.encode(scalar)!) }
        if let hit = cache.value(for: key) { return hit }
        let ids = model.encodeWord(utf8: key)
        cache.insert(ids, for: key)
        return ids
    }
}
