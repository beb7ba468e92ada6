// libFuzzer target: the CLIP tokenizer. The input is (1) tokenized as text (lossy UTF-8) with the
// standard vocabulary in both cleaning modes, and (2) read as a merges file, as a vocab.json (with a
// tiny merges file) and as a tokenizer.json.
import CLIP
import Foundation

/// Repository root: $CLIPCL_ROOT, else derived from this file's path (Fuzz/tokenizer/main.swift).
private let root: URL = {
    if let r = ProcessInfo.processInfo.environment["CLIPCL_ROOT"] { return URL(fileURLWithPath: r) }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
}()

// `CLIPTokenizer.standard()` finds its merges through `Bundle.module`, which only SwiftPM builds have:
// load the same bundled file explicitly, once.
private let bundledMerges = root.appendingPathComponent("Sources/CLIP/Resources/bpe_simple_vocab_16e6.txt.gz")
private let openai: CLIPTokenizer = try! CLIPTokenizer(mergesFile: bundledMerges, vocabFile: nil, cleaning: .openai)
private let hf: CLIPTokenizer = try! CLIPTokenizer(mergesFile: bundledMerges, vocabFile: nil, cleaning: .huggingface)

private let tmp = ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
private let inputPath = "\(tmp)/clipcl-fuzz-tokenizer-\(getpid())-input"
private let tinyMergesURL: URL = {
    let url = URL(fileURLWithPath: "\(tmp)/clipcl-fuzz-tokenizer-\(getpid())-merges.txt")
    try! Data("#version: 0.2\na b\na</w> b</w>\nab c\n".utf8).write(to: url)
    return url
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: bytes, as: UTF8.self)
    for tokenizer in [openai, hf] {
        _ = try? tokenizer.tokenize(text, contextLength: 77)
        let ids = tokenizer.encode(text)
        _ = tokenizer.decode(ids)
    }

    let input = URL(fileURLWithPath: inputPath)
    guard FileManager.default.createFile(atPath: inputPath, contents: Data(buffer: bytes)) else { return 0 }
    defer { unlink(inputPath) }
    if let t = try? CLIPTokenizer(mergesFile: input, vocabFile: nil, cleaning: .openai) {
        _ = try? t.tokenize("a photo of a cat", contextLength: 77)
    }
    if let t = try? CLIPTokenizer(mergesFile: tinyMergesURL, vocabFile: input, cleaning: .huggingface) {
        _ = try? t.tokenize("abc ab a b", contextLength: 77)
    }
    if let t = try? CLIPTokenizer(tokenizerJSON: input, cleaning: .huggingface) {
        _ = try? t.tokenize("abc ab a b", contextLength: 77)
    }
    return 0
}
