import Foundation

/// The GPT-2 / CLIP byte alphabet (`bytes_to_unicode` in `simple_tokenizer.py`, clip.md §3.2).
///
/// The 188 printable bytes 33–126, 161–172, 174–255 stand for themselves; the other 68 bytes, in increasing order,
/// map to U+0100 + n. The id table lists the 256 characters in this insertion order (printables first).
enum ByteAlphabet {
    /// Bytes in id order: `idOrder[i]` is the byte whose character has id `i` (and `i + 256` with `</w>`).
    static let idOrder: [UInt8] = {
        var order = [UInt8]()
        order.reserveCapacity(256)
        for b in 33...126 { order.append(UInt8(b)) }
        for b in 161...172 { order.append(UInt8(b)) }
        for b in 174...255 { order.append(UInt8(b)) }
        var printable = [Bool](repeating: false, count: 256)
        for b in order { printable[Int(b)] = true }
        for b in 0..<256 where !printable[b] { order.append(UInt8(b)) }
        return order
    }()

    /// `character[b]` is the one-character string for byte `b`.
    static let character: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: "\0", count: 256)
        var n: UInt32 = 0
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt8(b))
            } else {
                table[b] = Unicode.Scalar(256 + n)!
                n += 1
            }
        }
        return table
    }()

    /// Inverse of `character`, indexed by scalar value (all alphabet scalars are < U+0144).
    static let byteForScalar: [Int16] = {
        var table = [Int16](repeating: -1, count: 0x144)
        for b in 0..<256 { table[Int(character[b].value)] = Int16(b) }
        return table
    }()

    static func byte(for scalar: Unicode.Scalar) -> UInt8? {
        let v = Int(scalar.value)
        guard v < byteForScalar.count, byteForScalar[v] >= 0 else { return nil }
        return UInt8(byteForScalar[v])
    }
}

/// An immutable byte-level BPE model: token strings ↔ ids, merge ranks, and the merge loop of clip.md §3.6.
///
/// Symbols are handled as ids. Token strings map to ids through one dictionary (for the OpenAI file built like
/// Python's `dict(zip(vocab, range(len(vocab))))`, so a repeated string keeps its last id), which keeps id equality
/// the same as the string equality the reference uses.
struct ByteLevelBPE: Sendable {
    struct Merge: Sendable {
        var rank: Int32
        var result: Int32
    }

    static let endOfWord = "</w>"
    static let startOfTextToken = "<|startoftext|>"
    static let endOfTextToken = "<|endoftext|>"

    /// token string → id
    let tokenToID: [String: Int32]
    /// id → token string ("" for ids the vocabulary does not use)
    let idToToken: [String]
    /// id of the one-character symbol for each byte, and of that character followed by `</w>`
    let byteID: [Int32]
    let byteEndID: [Int32]
    /// (first id << 32 | second id) → rank and id of the concatenation
    let merges: [UInt64: Merge]
    let startOfTextID: Int32
    let endOfTextID: Int32

    var vocabularySize: Int { tokenToID.count }
    var mergeCount: Int { merges.count }

    @inline(__always)
    static func pairKey(_ a: Int32, _ b: Int32) -> UInt64 {
        (UInt64(UInt32(bitPattern: a)) << 32) | UInt64(UInt32(bitPattern: b))
    }

    /// Ids by the OpenAI rules (clip.md §3.2): 256 byte characters, the same with `</w>`, one per merge, SOT, EOT.
    /// A merge whose part is no token can never fire in the reference either, so it is left out, not an error.
    init(mergePairs: [(String, String)], source: String) throws {
        var vocab = [String]()
        vocab.reserveCapacity(512 + mergePairs.count + 2)
        for b in ByteAlphabet.idOrder { vocab.append(String(Character(ByteAlphabet.character[Int(b)]))) }
        for i in 0..<256 { vocab.append(vocab[i] + Self.endOfWord) }
        for (a, b) in mergePairs { vocab.append(a + b) }
        vocab.append(Self.startOfTextToken)
        vocab.append(Self.endOfTextToken)
        var map = [String: Int32](minimumCapacity: vocab.count)
        for (i, token) in vocab.enumerated() { map[token] = Int32(i) }  // last occurrence wins, as in Python
        try self.init(tokenToID: map, mergePairs: mergePairs, source: source, skipMergesWithUnknownParts: true)
    }

    /// Ids taken from a vocabulary (HF `vocab.json` / `tokenizer.json`). Every merge's parts and concatenation,
    /// every byte character (with and without `</w>`) and both special tokens must be in the vocabulary.
    init(tokenToID: [String: Int32], mergePairs: [(String, String)], source: String,
         skipMergesWithUnknownParts: Bool = false) throws {
        func lookup(_ token: String, _ what: @autoclosure () -> String) throws -> Int32 {
            guard let id = tokenToID[token] else {
                throw TokenizerError("\(source): vocabulary has no entry for \(what()) \(token.debugDescription)")
            }
            return id
        }
        var byteID = [Int32](repeating: 0, count: 256)
        var byteEndID = [Int32](repeating: 0, count: 256)
        for b in 0..<256 {
            let ch = String(Character(ByteAlphabet.character[b]))
            byteID[b] = try lookup(ch, "byte \(b)")
            byteEndID[b] = try lookup(ch + Self.endOfWord, "byte \(b) with </w>")
        }
        var merges = [UInt64: Merge](minimumCapacity: mergePairs.count)
        for (rank, (a, b)) in mergePairs.enumerated() {
            if skipMergesWithUnknownParts && (tokenToID[a] == nil || tokenToID[b] == nil) { continue }
            let ia = try lookup(a, "merge \(rank) part")
            let ib = try lookup(b, "merge \(rank) part")
            let ir = try lookup(a + b, "merge \(rank) result")
            merges[Self.pairKey(ia, ib)] = Merge(rank: Int32(rank), result: ir)  // later duplicates win, as in Python
        }
        let sot = try lookup(Self.startOfTextToken, "special token")
        let eot = try lookup(Self.endOfTextToken, "special token")

        var maxID: Int32 = -1
        for id in tokenToID.values {
            guard id >= 0 else { throw TokenizerError("\(source): negative token id \(id)") }
            maxID = max(maxID, id)
        }
        guard maxID < 16_777_216 else { throw TokenizerError("\(source): token id \(maxID) is implausibly large") }
        var idToToken = [String](repeating: "", count: Int(maxID) + 1)
        for (token, id) in tokenToID { idToToken[Int(id)] = token }

        self.tokenToID = tokenToID
        self.idToToken = idToToken
        self.byteID = byteID
        self.byteEndID = byteEndID
        self.merges = merges
        self.startOfTextID = sot
        self.endOfTextID = eot
    }

    /// BPE on one pre-token given as UTF-8 bytes (clip.md §3.6 steps 1–4).
    func encodeWord<C: Collection>(utf8 bytes: C) -> [Int32] where C.Element == UInt8 {
        guard !bytes.isEmpty else { return [] }
        var word = [Int32]()
        word.reserveCapacity(bytes.count)
        var index = bytes.startIndex
        let last = bytes.index(bytes.startIndex, offsetBy: bytes.count - 1)
        while index != last {
            word.append(byteID[Int(bytes[index])])
            bytes.formIndex(after: &index)
        }
        word.append(byteEndID[Int(bytes[last])])
        return merge(word)
    }

    /// The merge loop: repeatedly take the lowest-ranked adjacent pair and replace every non-overlapping
    /// occurrence, left to right, by its concatenation, until no ranked pair is left or one symbol remains.
    func merge(_ initial: [Int32]) -> [Int32] {
        var word = initial
        var scratch = [Int32]()
        scratch.reserveCapacity(word.count)
        while word.count > 1 {
            var bestRank = Int32.max
            var best = Merge(rank: .max, result: 0)
            var first: Int32 = 0
            var second: Int32 = 0
            for i in 0..<(word.count - 1) {
                if let m = merges[Self.pairKey(word[i], word[i + 1])], m.rank < bestRank {
                    bestRank = m.rank
                    best = m
                    first = word[i]
                    second = word[i + 1]
                }
            }
            guard bestRank != .max else { break }
            scratch.removeAll(keepingCapacity: true)
            var i = 0
            let n = word.count
            while i < n {
                if i + 1 < n && word[i] == first && word[i + 1] == second {
                    scratch.append(best.result)
                    i += 2
                } else {
                    scratch.append(word[i])
                    i += 1
                }
            }
            swap(&word, &scratch)
        }
        return word
    }

    func token(for id: Int32) -> String? {
        guard id >= 0, Int(id) < idToToken.count else { return nil }
        let t = idToToken[Int(id)]
        return t.isEmpty ? nil : t
    }
}

/// A bounded, lock-protected cache of BPE results per pre-token, keyed by its UTF-8 bytes (clip.md §3.6 step 5).
///
/// `NSLock` rather than `Synchronization.Mutex` so the module still builds for the package's macOS 14 floor
/// (`Mutex` needs macOS 15). All access to `storage` goes through `lock`.
final class BPECache: @unchecked Sendable {
    private let lock = NSLock()
    private var storage: [[UInt8]: [Int32]] = [:]
    private let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func value(for key: [UInt8]) -> [Int32]? {
        lock.lock()
        defer { lock.unlock() }
        return storage[key]
    }

    func insert(_ value: [Int32], for key: [UInt8]) {
        lock.lock()
        defer { lock.unlock() }
        if storage.count >= capacity { storage.removeAll(keepingCapacity: true) }
        storage[key] = value
    }
}
