import Foundation

/// Readers for the tokenizer file formats: the OpenAI `bpe_simple_vocab_16e6.txt(.gz)`, HF `merges.txt` +
/// `vocab.json`, and HF `tokenizer.json` (clip.md §3.1, §3.8).
enum TokenizerFiles {
    /// Upper bound for a decompressed merges file (the real one is 3,194,984 bytes).
    static let maxDecompressedBytes = 256 << 20
    /// Merge lines `[1, 48895)` of the OpenAI file: `49152 - 256 - 2 + 1` in `simple_tokenizer.py`.
    static let openAIMergeLineRange = 1..<(49152 - 256 - 2 + 1)

    static func read(_ url: URL) throws -> Data {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw TokenizerError("\(url.path): cannot read file (\(error.localizedDescription))")
        }
        guard Gzip.isGzip(data) else { return data }
        do {
            return try Gzip.gunzip(data, maxOutputBytes: maxDecompressedBytes, source: url.path)
        } catch let error as GzipError {
            throw TokenizerError(error.description)
        }
    }

    /// Merge pairs from a merges file (already decompressed).
    ///
    /// - First line starting with `#version` (HF `merges.txt`): that line is skipped and every other non-empty
    ///   line is a merge.
    /// - First line containing `#version` elsewhere (the OpenAI file starts with `"bpe_simple_vocab_16e6.txt#version`):
    ///   lines `[1, 48895)` are the merges, exactly as `simple_tokenizer.py` slices them.
    /// - No header: every non-empty line is a merge.
    /// A merge line is two tokens separated by whitespace; anything else is an error naming the line.
    static func parseMerges(_ data: Data, source: String) throws -> [(String, String)] {
        let bytes = [UInt8](data)
        var lines = [Range<Int>]()
        var start = 0
        for (i, b) in bytes.enumerated() where b == 0x0A {
            lines.append(start..<i)
            start = i + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        guard let firstLine = lines.first else { throw TokenizerError("\(source): empty merges file") }

        let header = Array(bytes[firstLine])
        let version = Array("#version".utf8)
        let selected: Range<Int>
        if header.starts(with: version) {
            selected = 1..<lines.count
        } else if contains(header, version) {
            selected = openAIMergeLineRange.clamped(to: 0..<lines.count)
        } else {
            selected = 0..<lines.count
        }

        var pairs = [(String, String)]()
        pairs.reserveCapacity(selected.count)
        for lineIndex in selected {
            var line = lines[lineIndex]
            if line.upperBound > line.lowerBound && bytes[line.upperBound - 1] == 0x0D {  // CRLF files
                line = line.lowerBound..<(line.upperBound - 1)
            }
            var parts = [Range<Int>]()
            var p = line.lowerBound
            while p < line.upperBound {
                while p < line.upperBound && (bytes[p] == 0x20 || bytes[p] == 0x09) { p += 1 }
                let s = p
                while p < line.upperBound && bytes[p] != 0x20 && bytes[p] != 0x09 { p += 1 }
                if p > s { parts.append(s..<p) }
            }
            if parts.isEmpty { continue }  // blank line (e.g. the one after the final newline)
            guard parts.count == 2 else {
                throw TokenizerError("\(source):\(lineIndex + 1): merge line must hold two tokens, found \(parts.count)")
            }
            guard let a = String(validating: bytes[parts[0]], as: UTF8.self),
                  let b = String(validating: bytes[parts[1]], as: UTF8.self)
            else { throw TokenizerError("\(source):\(lineIndex + 1): merge line is not valid UTF-8") }
            pairs.append((a, b))
        }
        guard !pairs.isEmpty else { throw TokenizerError("\(source): no merge lines found") }
        return pairs
    }

    private static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard haystack.count >= needle.count else { return false }
        for i in 0...(haystack.count - needle.count) where haystack[i..<(i + needle.count)].elementsEqual(needle) {
            return true
        }
        return false
    }

    /// HF `vocab.json`: a JSON object token → id.
    static func parseVocabJSON(_ data: Data, source: String) throws -> [String: Int32] {
        let raw: [String: Int]
        do {
            raw = try JSONDecoder().decode([String: Int].self, from: data)
        } catch {
            throw TokenizerError("\(source): not a JSON object of token → integer id (\(describe(error)))")
        }
        return try convertIDs(raw, source: source)
    }

    /// HF `tokenizer.json`: `model.vocab` and `model.merges` (merges as `"a b"` strings or `["a", "b"]` pairs).
    /// Special tokens missing from `model.vocab` are taken from `added_tokens`.
    static func parseTokenizerJSON(_ data: Data, source: String) throws -> (vocab: [String: Int32], merges: [(String, String)]) {
        let file: HFTokenizerJSON
        do {
            file = try JSONDecoder().decode(HFTokenizerJSON.self, from: data)
        } catch {
            throw TokenizerError("\(source): not an HF tokenizer.json with model.vocab and model.merges (\(describe(error)))")
        }
        if let type = file.model.type, type != "BPE" {
            throw TokenizerError("\(source): model.type is \(type.debugDescription), expected \"BPE\"")
        }
        var raw = file.model.vocab
        for added in file.added_tokens ?? [] where raw[added.content] == nil {
            raw[added.content] = added.id
        }
        let vocab = try convertIDs(raw, source: source)
        var merges = [(String, String)]()
        merges.reserveCapacity(file.model.merges.count)
        for (i, item) in file.model.merges.enumerated() {
            guard let pair = item.pair else {
                throw TokenizerError("\(source): model.merges[\(i)] is not a pair of two tokens")
            }
            merges.append(pair)
        }
        return (vocab, merges)
    }

    private static func convertIDs(_ raw: [String: Int], source: String) throws -> [String: Int32] {
        var vocab = [String: Int32](minimumCapacity: raw.count)
        for (token, id) in raw {
            guard let id32 = Int32(exactly: id), id32 >= 0 else {
                throw TokenizerError("\(source): token \(token.debugDescription) has invalid id \(id)")
            }
            vocab[token] = id32
        }
        return vocab
    }

    private static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.dataCorrupted(let c):
            return c.debugDescription
        case DecodingError.keyNotFound(let key, let c):
            return "missing key \((c.codingPath + [key]).map(\.stringValue).joined(separator: "."))"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c):
            return "\(c.debugDescription) at \(c.codingPath.map(\.stringValue).joined(separator: "."))"
        default:
            return String(describing: error)
        }
    }
}

private struct HFTokenizerJSON: Decodable {
    struct Model: Decodable {
        let type: String?
        let vocab: [String: Int]
        let merges: [MergeItem]
    }

    struct AddedToken: Decodable {
        let id: Int
        let content: String
    }

    /// One merge: `"a b"` (older files) or `["a", "b"]` (tokenizers ≥ 0.20).
    struct MergeItem: Decodable {
        let pair: (String, String)?

        init(from decoder: Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                let parts = text.split(separator: " ", omittingEmptySubsequences: false)
                pair = parts.count == 2 && !parts[0].isEmpty && !parts[1].isEmpty
                    ? (String(parts[0]), String(parts[1])) : nil
            } else {
                let parts = try container.decode([String].self)
                pair = parts.count == 2 ? (parts[0], parts[1]) : nil
            }
        }
    }

    let model: Model
    let added_tokens: [AddedToken]?
}
