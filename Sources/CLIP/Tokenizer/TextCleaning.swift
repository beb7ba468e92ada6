/// How raw text is cleaned before pre-tokenisation (clip.md §3.3, §3.4). The two modes give different ids for
/// some inputs, so a reference must be compared in the mode that produced it.
public enum TextCleaning: String, Sendable, Codable, CaseIterable {
    /// OpenAI `clip` / open_clip: ftfy-like fixes to a fixed point, `html.unescape` twice, strip, whitespace
    /// collapse, Python lowercasing. ftfy's mojibake repair (`fix_encoding`) is not implemented.
    case openai
    /// Hugging Face tokenizers: NFC, collapse whitespace runs to one space, lowercase. No ftfy, no HTML unescape.
    case huggingface

    /// The cleaned text, as the pre-tokeniser sees it.
    public func clean(_ text: String) -> String {
        var out = String()
        out.unicodeScalars.append(contentsOf: cleanScalars(text))
        return out
    }

    func cleanScalars(_ text: String) -> [Unicode.Scalar] {
        let scalars = Array(text.unicodeScalars)
        switch self {
        case .openai:
            var s = FtfyLike.fixText(scalars)
            s = HTMLUnescape.pythonUnescape(HTMLUnescape.pythonUnescape(s))
            // `basic_clean` ends with `str.strip()` (Python `isspace`); `whitespace_clean` is `regex.sub(r'\s+', ' ')`
            // (`regex` module: White_Space) then `strip()`. They differ only on U+001C–001F, which ftfy removed.
            s = TextNormalization.strip(s, isSpace: TextNormalization.isPythonSpace)
            s = TextNormalization.collapseWhitespace(s, isSpace: TextNormalization.isWhiteSpace)
            s = TextNormalization.strip(s, isSpace: TextNormalization.isPythonSpace)
            return TextNormalization.lowercased(s, finalSigma: true)
        case .huggingface:
            var s = TextNormalization.nfc(scalars)
            s = TextNormalization.collapseWhitespace(s, isSpace: TextNormalization.isWhiteSpace)
            return TextNormalization.lowercased(s, finalSigma: false)
        }
    }
}

// MARK: - Shared normalisation helpers

enum TextNormalization {
    /// Unicode White_Space (25 code points). Rust/HF `\s` and the `regex` module's `\s`.
    @inline(__always)
    static func isWhiteSpace(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x09...0x0D, 0x20: return true
        case 0..<0x85: return false
        default: return c.properties.isWhitespace
        }
    }

    /// Python `str.isspace()` (and `re`'s `\s`): White_Space plus U+001C–U+001F.
    @inline(__always)
    static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
        (0x1C...0x1F).contains(c.value) || isWhiteSpace(c)
    }

    /// Python `text.strip()` with the given notion of space.
    static func strip(_ s: [Unicode.Scalar], isSpace: (Unicode.Scalar) -> Bool) -> [Unicode.Scalar] {
        guard let first = s.firstIndex(where: { !isSpace($0) }), let last = s.lastIndex(where: { !isSpace($0) }) else {
            return []
        }
        return first == 0 && last == s.count - 1 ? s : Array(s[first...last])
    }

    /// `re.sub(r'\s+', ' ', text).strip()`: runs of spaces become one U+0020 and the ends are trimmed.
    static func collapseWhitespace(_ s: [Unicode.Scalar], isSpace: (Unicode.Scalar) -> Bool) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        var pendingSpace = false
        for c in s {
            if isSpace(c) {
                pendingSpace = !out.isEmpty
            } else {
                if pendingSpace { out.append(" ") }
                pendingSpace = false
                out.append(c)
            }
        }
        return out
    }

    /// Canonical composition (NFC). Text made only of scalars below U+0300 is already NFC and is returned as is.
    ///
    /// Uses the standard library's normaliser (`String._nfcCodeUnits`, public though underscored), not
    /// Foundation's `precomposedStringWithCanonicalMapping`: on Linux (Swift 6.3) the latter composes a
    /// supplementary-plane base with a following mark as if the base were its low 16 bits
    /// (U+21F20 U+0301 → U+1F24 "ἤ").
    ///
    /// The standard library in turn treats the three scalars with combining class 0 whose decomposition starts with
    /// a non-starter (U+0F73, U+0F75, U+0F81) as segment starts and skips canonical reordering around them
    /// (U+1DF0 U+0F81 stays in that order instead of U+0F71 U+0F80 U+1DF0), so those are decomposed first.
    static func nfc(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0.value >= 0x300 }) else { return s }
        var string = String()
        string.unicodeScalars.reserveCapacity(s.count)
        for c in s {
            switch c.value {
            case 0xF73: string.unicodeScalars.append(contentsOf: ["\u{F71}", "\u{F72}"])
            case 0xF75: string.unicodeScalars.append(contentsOf: ["\u{F71}", "\u{F74}"])
            case 0xF81: string.unicodeScalars.append(contentsOf: ["\u{F71}", "\u{F80}"])
            default: string.unicodeScalars.append(c)
            }
        }
        return Array(String(decoding: string._nfcCodeUnits, as: UTF8.self).unicodeScalars)
    }

    /// Full Unicode lowercasing. With `finalSigma` (Python `str.lower()`), U+03A3 becomes final ς when preceded by
    /// a cased letter (skipping case-ignorables) and not followed by one; without it (HF / Rust `char::to_lowercase`
    /// per character) it is always σ.
    static func lowercased(_ s: [Unicode.Scalar], finalSigma: Bool) -> [Unicode.Scalar] {
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        for (i, c) in s.enumerated() {
            let v = c.value
            if v < 0x80 {
                out.append(v >= 0x41 && v <= 0x5A ? Unicode.Scalar(UInt8(v + 32)) : c)
            } else if v == 0x3A3 && finalSigma {
                out.append(isFinalSigma(s, at: i) ? "\u{3C2}" : "\u{3C3}")
            } else if c.properties.changesWhenLowercased {
                out.append(contentsOf: c.properties.lowercaseMapping.unicodeScalars)
            } else {
                out.append(c)
            }
        }
        return out
    }

    /// CPython `handle_capital_sigma`: `\p{cased}\p{case-ignorable}* Σ !(\p{case-ignorable}* \p{cased})`.
    private static func isFinalSigma(_ s: [Unicode.Scalar], at i: Int) -> Bool {
        var j = i - 1
        while j >= 0 && s[j].properties.isCaseIgnorable { j -= 1 }
        guard j >= 0 && s[j].properties.isCased else { return false }
        var k = i + 1
        while k < s.count && s[k].properties.isCaseIgnorable { k += 1 }
        return k == s.count || !s[k].properties.isCased
    }
}

// MARK: - ftfy-like fixes (OpenAI mode, step 1)

/// The parts of `ftfy.fix_text` (ftfy 6.3.1, default config) that matter for ordinary text, applied like
/// `fix_and_explain`: one pass of every fixer in ftfy's order, repeated until the text stops changing.
///
/// Per pass: `unescape_html` (only on lines before the first line containing `<`) → [`fix_encoding`: not implemented] →
/// `fix_c1_controls` → `fix_latin_ligatures` → `fix_character_width` → `uncurl_quotes` → `fix_line_breaks` →
/// [`fix_surrogates`: Swift strings hold no lone surrogates] → `remove_terminal_escapes` → `remove_control_chars`
/// → NFC. The per-character fixers are composed into one translation per scalar, which is equivalent because each
/// maps one character at a time without context.
enum FtfyLike {
    static func fixText(_ input: [Unicode.Scalar]) -> [Unicode.Scalar] {
        // `fix_text` works line by line (segments end after "\n") and switches `unescape_html="auto"` off for good
        // at the first segment containing "<". Every fixer here is local to a line, so fixing the lines before
        // that segment together, and the rest together, is the same as fixing segment by segment.
        var split = input.count
        var segmentStart = 0
        for (i, c) in input.enumerated() {
            if c == "<" {
                split = segmentStart
                break
            }
            if c == "\n" { segmentStart = i + 1 }
        }
        if split == input.count { return fixToFixedPoint(input, unescape: true) }
        if split == 0 { return fixToFixedPoint(input, unescape: false) }
        return fixToFixedPoint(Array(input[..<split]), unescape: true)
            + fixToFixedPoint(Array(input[split...]), unescape: false)
    }

    static func fixToFixedPoint(_ input: [Unicode.Scalar], unescape: Bool) -> [Unicode.Scalar] {
        var text = input
        // ftfy has no iteration limit; every step here only shrinks or canonicalises the text, so a fixed point
        // comes quickly. The bound only guards against a bug turning into a hang.
        for _ in 0..<64 {
            let original = text
            if unescape { text = unescapeHTML(text) }
            text = translateCharacters(text)
            text = fixLineBreaks(text)
            text = removeTerminalEscapes(text)
            text.removeAll(where: isRemovedControl)
            text = TextNormalization.nfc(text)
            if text == original { break }
        }
        return text
    }

    /// Windows-1252 for bytes 0x80–0x9F, undefined positions kept as the C1 control (ftfy's `sloppy-windows-1252`,
    /// identical to Python `html`'s table for invalid numeric references).
    static let cp1252C1: [UInt32] = [
        0x20AC, 0x81, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160, 0x2039, 0x0152, 0x8D,
        0x017D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A,
        0x0153, 0x9D, 0x017E, 0x0178,
    ]

    /// ftfy `chardata.LIGATURES`.
    static let ligatures: [UInt32: [Unicode.Scalar]] = [
        0x0132: ["I", "J"], 0x0133: ["i", "j"], 0x0149: ["\u{2BC}", "n"],
        0x01F1: ["D", "Z"], 0x01F2: ["D", "z"], 0x01F3: ["d", "z"],
        0x01C4: ["D", "\u{17D}"], 0x01C5: ["D", "\u{17E}"], 0x01C6: ["d", "\u{17E}"],
        0x01C7: ["L", "J"], 0x01C8: ["L", "j"], 0x01C9: ["l", "j"],
        0x01CA: ["N", "J"], 0x01CB: ["N", "j"], 0x01CC: ["n", "j"],
        0xFB00: ["f", "f"], 0xFB01: ["f", "i"], 0xFB02: ["f", "l"], 0xFB03: ["f", "f", "i"],
        0xFB04: ["f", "f", "l"], 0xFB05: ["\u{17F}", "t"], 0xFB06: ["s", "t"],
    ]

    /// ftfy `chardata.WIDTH_MAP`: U+3000 → space, and U+FF01–U+FFEF → NFKC where it differs (generated with
    /// Python 3.11 `unicodedata`, Unicode 14.0). Format `HEX:HEX[.HEX]`.
    private static let widthMapData = """
        3000:20 FF5F:2985 FF60:2986 FF61:3002 FF62:300C FF63:300D FF64:3001 FF65:30FB FF66:30F2 FF67:30A1 FF68:30A3
        FF69:30A5 FF6A:30A7 FF6B:30A9 FF6C:30E3 FF6D:30E5 FF6E:30E7 FF6F:30C3 FF70:30FC FF71:30A2 FF72:30A4 FF73:30A6
        FF74:30A8 FF75:30AA FF76:30AB FF77:30AD FF78:30AF FF79:30B1 FF7A:30B3 FF7B:30B5 FF7C:30B7 FF7D:30B9 FF7E:30BB
        FF7F:30BD FF80:30BF FF81:30C1 FF82:30C4 FF83:30C6 FF84:30C8 FF85:30CA FF86:30CB FF87:30CC FF88:30CD FF89:30CE
        FF8A:30CF FF8B:30D2 FF8C:30D5 FF8D:30D8 FF8E:30DB FF8F:30DE FF90:30DF FF91:30E0 FF92:30E1 FF93:30E2 FF94:30E4
        FF95:30E6 FF96:30E8 FF97:30E9 FF98:30EA FF99:30EB FF9A:30EC FF9B:30ED FF9C:30EF FF9D:30F3 FF9E:3099 FF9F:309A
        FFA0:1160 FFA1:1100 FFA2:1101 FFA3:11AA FFA4:1102 FFA5:11AC FFA6:11AD FFA7:1103 FFA8:1104 FFA9:1105 FFAA:11B0
        FFAB:11B1 FFAC:11B2 FFAD:11B3 FFAE:11B4 FFAF:11B5 FFB0:111A FFB1:1106 FFB2:1107 FFB3:1108 FFB4:1121 FFB5:1109
        FFB6:110A FFB7:110B FFB8:110C FFB9:110D FFBA:110E FFBB:110F FFBC:1110 FFBD:1111 FFBE:1112 FFC2:1161 FFC3:1162
        FFC4:1163 FFC5:1164 FFC6:1165 FFC7:1166 FFCA:1167 FFCB:1168 FFCC:1169 FFCD:116A FFCE:116B FFCF:116C FFD2:116D
        FFD3:116E FFD4:116F FFD5:1170 FFD6:1171 FFD7:1172 FFDA:1173 FFDB:1174 FFDC:1175 FFE0:A2 FFE1:A3 FFE2:AC
        FFE3:20.304 FFE4:A6 FFE5:A5 FFE6:20A9 FFE8:2502 FFE9:2190 FFEA:2191 FFEB:2192 FFEC:2193 FFED:25A0 FFEE:25CB
        """

    static let widthMap: [UInt32: [Unicode.Scalar]] = {
        var map = HTMLEntities.parseTable(widthMapData).reduce(into: [UInt32: [Unicode.Scalar]]()) { map, entry in
            map[UInt32(entry.key, radix: 16)!] = entry.value
        }
        // FF01–FF5E: fullwidth ASCII → ASCII 21–7E.
        for v: UInt32 in 0xFF01...0xFF5E { map[v] = [Unicode.Scalar(v - 0xFF01 + 0x21)!] }
        return map
    }()

    /// `fix_c1_controls`, `fix_latin_ligatures`, `fix_character_width`, `uncurl_quotes`, composed per scalar.
    static func translateCharacters(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0.value >= 0x80 }) else { return s }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        var stage1 = [Unicode.Scalar]()
        for c in s {
            var c = c
            if (0x80...0x9F).contains(c.value) { c = Unicode.Scalar(cp1252C1[Int(c.value - 0x80)])! }
            stage1.removeAll(keepingCapacity: true)
            if let lig = ligatures[c.value] { stage1.append(contentsOf: lig) } else { stage1.append(c) }
            for d in stage1 {
                if let wide = widthMap[d.value] {
                    for e in wide { out.append(uncurl(e)) }
                } else {
                    out.append(uncurl(d))
                }
            }
        }
        return out
    }

    /// `uncurl_quotes`: U+02BC and U+2018–U+201B → `'`, U+201C–U+201F → `"`.
    @inline(__always)
    static func uncurl(_ c: Unicode.Scalar) -> Unicode.Scalar {
        switch c.value {
        case 0x2BC, 0x2018...0x201B: return "'"
        case 0x201C...0x201F: return "\""
        default: return c
        }
    }

    /// `fix_line_breaks`: CRLF, CR, U+2028, U+2029, U+0085 → LF.
    static func fixLineBreaks(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains(where: { $0 == "\r" || $0 == "\u{2028}" || $0 == "\u{2029}" || $0 == "\u{85}" }) else {
            return s
        }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            switch s[i] {
            case "\r":
                out.append("\n")
                if i + 1 < s.count && s[i + 1] == "\n" { i += 1 }
            case "\u{2028}", "\u{2029}", "\u{85}":
                out.append("\n")
            default:
                out.append(s[i])
            }
            i += 1
        }
        return out
    }

    /// `remove_terminal_escapes`: deletes `ESC [ (\d|;)* [A-Za-z]` (`\d` = any Unicode decimal digit).
    static func removeTerminalEscapes(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("\u{1B}") else { return s }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        var i = 0
        while i < s.count {
            if s[i] == "\u{1B}" && i + 1 < s.count && s[i + 1] == "[" {
                var j = i + 2
                while j < s.count && (s[j] == ";" || s[j].properties.generalCategory == .decimalNumber) { j += 1 }
                if j < s.count && s[j].isASCII && s[j].properties.isAlphabetic {
                    i = j + 1
                    continue
                }
            }
            out.append(s[i])
            i += 1
        }
        return out
    }

    /// `remove_control_chars`: U+0000–0008, U+000B, U+000E–001F, U+007F, U+206A–206F, U+FEFF, U+FFF9–FFFC.
    @inline(__always)
    static func isRemovedControl(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
        default: return false
        }
    }

    /// ftfy `unescape_html`: `&#?[0-9A-Za-z]{1,24};` replaced when it is an HTML5 entity ending in `;` (or one of
    /// ftfy's all-caps spellings), or a numeric reference that Python's `html.unescape` decodes completely.
    static func unescapeHTML(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        let n = s.count
        var i = 0
        while i < n {
            guard s[i] == "&" else {
                out.append(s[i])
                i += 1
                continue
            }
            let hash = i + 1 < n && s[i + 1] == "#"
            let nameStart = hash ? i + 2 : i + 1
            var k = nameStart
            while k < n && k - nameStart <= 24 && HTMLUnescape.isASCIIAlphanumeric(s[k]) { k += 1 }
            let length = k - nameStart
            guard length >= 1 && length <= 24 && k < n && s[k] == ";" else {
                out.append("&")
                i += 1
                continue
            }
            let match = s[i...k]
            if !hash {
                let key = HTMLUnescape.string(s[(i + 1)...k])
                if let value = HTMLEntities.html5[key] ?? HTMLEntities.ftfyUppercase[key] {
                    out.append(contentsOf: value)
                } else {
                    out.append(contentsOf: match)
                }
            } else {
                let decoded = HTMLUnescape.pythonUnescape(Array(match))
                if decoded.contains(";") { out.append(contentsOf: match) } else { out.append(contentsOf: decoded) }
            }
            i = k + 1
        }
        return out
    }
}

// MARK: - Python html.unescape (OpenAI mode, step 2)

/// Python's `html.unescape` (CPython 3.11 `Lib/html/__init__.py`), scalar for scalar:
/// `&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)`, HTML5 named references with the longest-prefix rule
/// for the legacy names without `;`, and the HTML5 handling of invalid numeric references.
enum HTMLUnescape {
    static func pythonUnescape(_ s: [Unicode.Scalar]) -> [Unicode.Scalar] {
        guard s.contains("&") else { return s }
        var out = [Unicode.Scalar]()
        out.reserveCapacity(s.count)
        let n = s.count
        var i = 0
        while i < n {
            if s[i] == "&", let (replacement, end) = charref(s, at: i) {
                out.append(contentsOf: replacement)
                i = end
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return out
    }

    /// The replacement for a reference starting with the `&` at `i`, and the index after it; nil if the regex does
    /// not match there.
    private static func charref(_ s: [Unicode.Scalar], at i: Int) -> ([Unicode.Scalar], Int)? {
        let n = s.count
        var j = i + 1
        guard j < n else { return nil }
        if s[j] == "#" {
            j += 1
            // `#[0-9]+;?`
            var k = j
            var value: UInt32 = 0
            while k < n, let d = asciiDigit(s[k]) {
                value = min(value &* 10 &+ d, 0x110000)  // anything above U+10FFFF decodes the same
                k += 1
            }
            if k > j {
                if k < n && s[k] == ";" { k += 1 }
                return (numeric(value), k)
            }
            // `#[xX][0-9a-fA-F]+;?`
            guard j < n, s[j] == "x" || s[j] == "X" else { return nil }
            k = j + 1
            value = 0
            while k < n, let d = hexDigit(s[k]) {
                value = min(value &* 16 &+ d, 0x110000)
                k += 1
            }
            guard k > j + 1 else { return nil }
            if k < n && s[k] == ";" { k += 1 }
            return (numeric(value), k)
        }
        // `[^\t\n\f <&#;]{1,32};?`
        var k = j
        while k < n && k - j < 32 && !isNameTerminator(s[k]) { k += 1 }
        guard k > j else { return nil }
        if k < n && s[k] == ";" { k += 1 }
        let name = s[j..<k]
        if let value = lookup(name) { return (value, k) }
        // Longest prefix (at least 2 characters) that is an entity name: `for x in range(len(s)-1, 1, -1)`.
        var x = name.count - 1
        while x >= 2 {
            let prefix = name.prefix(x)
            if let value = lookup(prefix) { return (value + name.dropFirst(x), k) }
            x -= 1
        }
        return (["&"] + name, k)
    }

    private static func lookup(_ name: ArraySlice<Unicode.Scalar>) -> [Unicode.Scalar]? {
        // Entity names are ASCII; comparing Swift Strings would also accept canonically equivalent non-ASCII
        // spellings (U+212A KELVIN SIGN == "K"), so anything non-ASCII is rejected first.
        guard name.allSatisfy({ $0.isASCII }) else { return nil }
        return HTMLEntities.html5[string(name)]
    }

    /// Python `_replace_charref` for a numeric reference.
    private static func numeric(_ value: UInt32) -> [Unicode.Scalar] {
        switch value {
        case 0x00: return ["\u{FFFD}"]
        case 0x0D: return ["\r"]
        case 0x80...0x9F: return [Unicode.Scalar(FtfyLike.cp1252C1[Int(value - 0x80)])!]
        case 0xD800...0xDFFF, 0x110000...: return ["\u{FFFD}"]
        case 0x01...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0xFDD0...0xFDEF: return []
        default:
            if value & 0xFFFE == 0xFFFE { return [] }  // U+xFFFE and U+xFFFF in every plane
            return [Unicode.Scalar(value)!]
        }
    }

    @inline(__always)
    private static func isNameTerminator(_ c: Unicode.Scalar) -> Bool {
        switch c {
        case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
        default: return false
        }
    }

    @inline(__always)
    static func asciiDigit(_ c: Unicode.Scalar) -> UInt32? {
        (0x30...0x39).contains(c.value) ? c.value - 0x30 : nil
    }

    @inline(__always)
    static func hexDigit(_ c: Unicode.Scalar) -> UInt32? {
        switch c.value {
        case 0x30...0x39: return c.value - 0x30
        case 0x41...0x46: return c.value - 0x41 + 10
        case 0x61...0x66: return c.value - 0x61 + 10
        default: return nil
        }
    }

    @inline(__always)
    static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
        default: return false
        }
    }

    static func string<S: Sequence>(_ scalars: S) -> String where S.Element == Unicode.Scalar {
        var out = String()
        out.unicodeScalars.append(contentsOf: scalars)
        return out
    }
}

/// The HTML5 entity tables of `HTMLEntityData`, parsed on first use.
enum HTMLEntities {
    /// Python `html.entities.html5` (2,231 names; the 106 legacy ones also without `;`).
    static let html5: [String: [Unicode.Scalar]] = parseTable(HTMLEntityData.html5)
    /// ftfy's extra all-caps names such as `NTILDE;` → "Ñ".
    static let ftfyUppercase: [String: [Unicode.Scalar]] = parseTable(HTMLEntityData.ftfyUppercase)

    /// Parses space-separated `key:HEX[.HEX]` entries.
    static func parseTable(_ data: String) -> [String: [Unicode.Scalar]] {
        var table = [String: [Unicode.Scalar]]()
        for entry in data.split(whereSeparator: { $0 == " " || $0 == "\n" }) {
            guard let colon = entry.lastIndex(of: ":") else { continue }
            let values = entry[entry.index(after: colon)...].split(separator: ".").compactMap {
                UInt32($0, radix: 16).flatMap(Unicode.Scalar.init)
            }
            table[String(entry[..<colon])] = values
        }
        return table
    }
}
