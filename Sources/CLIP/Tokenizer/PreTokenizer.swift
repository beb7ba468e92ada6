/// The CLIP pre-tokeniser (clip.md §3.5) as a hand-written scanner, equivalent to `regex.findall` with
///
///     <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
///
/// At each position the alternatives are tried in that order; what no alternative matches is skipped and never
/// emitted (whitespace = Unicode White_Space, as the `regex` module's `\s`).
///
/// OpenAI compiles the pattern with `regex.IGNORECASE`; HF's `tokenizer.json` pattern is case-sensitive. On
/// lowercased text that differs in exactly two places (checked over all code points with `regex` 2026.5.9):
/// - U+017F LATIN SMALL LETTER LONG S matches `s` in the literal alternatives (`'ſ` is a contraction);
/// - U+0345 COMBINING GREEK YPOGEGRAMMENI case-folds to ι, so the negated class `[^\s\p{L}\p{N}]` rejects it
///   while `[\p{L}]` does not accept it: no alternative matches and it is skipped like whitespace.
enum PreTokenizer {
    enum Kind: Equatable {
        case text
        /// The exact literal `<|startoftext|>` / `<|endoftext|>` (the reference's BPE cache maps these to the ids).
        case startOfText
        case endOfText
    }

    struct Piece: Equatable {
        var range: Range<Int>
        var kind: Kind
    }

    private static let startOfText: [Unicode.Scalar] = Array("<|startoftext|>".unicodeScalars)
    private static let endOfText: [Unicode.Scalar] = Array("<|endoftext|>".unicodeScalars)

    enum CharClass {
        /// Matched by no alternative: skipped, ends any run.
        case space
        case letter, number, other
    }

    /// ASCII classes precomputed; everything else through `generalCategory` / White_Space.
    private static let asciiClass: [CharClass] = (0..<128).map { v -> CharClass in
        switch v {
        case 0x09...0x0D, 0x20: return .space
        case 0x30...0x39: return .number
        case 0x41...0x5A, 0x61...0x7A: return .letter
        default: return .other
        }
    }

    @inline(__always)
    static func charClass(_ c: Unicode.Scalar, ignoreCase: Bool) -> CharClass {
        if c.value < 128 { return asciiClass[Int(c.value)] }
        if TextNormalization.isWhiteSpace(c) { return .space }
        if ignoreCase && c.value == 0x345 { return .space }
        switch c.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    /// Case-insensitive match of one pattern character (ASCII) against a text scalar.
    @inline(__always)
    private static func matches(_ pattern: Unicode.Scalar, _ c: Unicode.Scalar, _ ignoreCase: Bool) -> Bool {
        if c == pattern { return true }
        guard ignoreCase else { return false }
        let p = pattern.value
        if p >= 0x61 && p <= 0x7A && c.value == p - 32 { return true }  // uppercase ASCII (text is lowercased anyway)
        return p == 0x73 && c.value == 0x17F  // s ~ ſ
    }

    /// Length of a case-insensitive match of `literal` at `i`, or 0; `exact` tells whether it matched byte for byte.
    @inline(__always)
    private static func matchLiteral(_ literal: [Unicode.Scalar], _ s: [Unicode.Scalar], at i: Int,
                                     _ ignoreCase: Bool) -> (Int, exact: Bool) {
        guard i + literal.count <= s.count else { return (0, false) }
        var exact = true
        for (k, p) in literal.enumerated() {
            let c = s[i + k]
            guard matches(p, c, ignoreCase) else { return (0, false) }
            if c != p { exact = false }
        }
        return (literal.count, exact)
    }

    /// `ignoreCase`: OpenAI semantics (`regex.IGNORECASE`); false for HF.
    static func split(_ s: [Unicode.Scalar], ignoreCase: Bool) -> [Piece] {
        let ic = ignoreCase
        var pieces = [Piece]()
        let n = s.count
        var i = 0
        while i < n {
            let c = s[i]
            if c == "<" {
                let (lenS, exactS) = matchLiteral(startOfText, s, at: i, ic)
                if lenS > 0 {
                    pieces.append(Piece(range: i..<(i + lenS), kind: exactS ? .startOfText : .text))
                    i += lenS
                    continue
                }
                let (lenE, exactE) = matchLiteral(endOfText, s, at: i, ic)
                if lenE > 0 {
                    pieces.append(Piece(range: i..<(i + lenE), kind: exactE ? .endOfText : .text))
                    i += lenE
                    continue
                }
            } else if c == "'" && i + 1 < n {
                // 's|'t|'re|'ve|'m|'ll|'d
                let a = s[i + 1]
                var length = 0
                if matches("s", a, ic) || matches("t", a, ic) || matches("m", a, ic) || matches("d", a, ic) {
                    length = 2
                } else if i + 2 < n {
                    let b = s[i + 2]
                    if (matches("r", a, ic) && matches("e", b, ic)) || (matches("v", a, ic) && matches("e", b, ic))
                        || (matches("l", a, ic) && matches("l", b, ic)) {
                        length = 3
                    }
                }
                if length > 0 {
                    pieces.append(Piece(range: i..<(i + length), kind: .text))
                    i += length
                    continue
                }
            }
            switch charClass(c, ignoreCase: ic) {
            case .space:
                i += 1
            case .letter:
                var j = i + 1
                while j < n && charClass(s[j], ignoreCase: ic) == .letter { j += 1 }
                pieces.append(Piece(range: i..<j, kind: .text))
                i = j
            case .number:
                pieces.append(Piece(range: i..<(i + 1), kind: .text))
                i += 1
            case .other:
                var j = i + 1
                while j < n && charClass(s[j], ignoreCase: ic) == .other { j += 1 }
                pieces.append(Piece(range: i..<j, kind: .text))
                i = j
            }
        }
        return pieces
    }
}
