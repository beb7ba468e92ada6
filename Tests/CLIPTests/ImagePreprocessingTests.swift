import Foundation
import Testing
@testable import CLIP

/// Fixtures are produced by tools/make_image_fixtures.py with Pillow (version in manifest.json).
private let fixtureDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/images")

private struct Manifest: Decodable {
    struct Case: Decodable {
        let pipeline: String
        let order: String
        let resize: Int
        let crop_h: Int
        let crop_w: Int
        let resized_w: Int
        let resized_h: Int
        let left: Int
        let top: Int
        let expected: String
    }
    struct Entry: Decodable {
        let file: String
        let format: String
        let pil_mode: String
        let width: Int
        let height: Int
        let decoded_channels: Int
        let decoded: String?
        let exact: Bool
        let cases: [Case]
    }
    struct Rejected: Decodable {
        let file: String
        let reason: String
    }
    let pillow_version: String
    let installed_pass_order: String
    let images: [Entry]
    let rejected: [Rejected]
}

private func loadManifest() throws -> Manifest {
    let data = try Data(contentsOf: fixtureDir.appendingPathComponent("manifest.json"))
    return try JSONDecoder().decode(Manifest.self, from: data)
}

private func fixtureBytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: fixtureDir.appendingPathComponent(name)))
}

private func config(pipeline: String, order: String, resize: Int, cropH: Int, cropW: Int) -> PreprocessConfig {
    var c = baseConfig(pipeline: pipeline, resize: resize, cropH: cropH, cropW: cropW)
    c.resizePassOrder = ResizePassOrder(rawValue: order)!
    return c
}

private func baseConfig(pipeline: String, resize: Int, cropH: Int, cropW: Int) -> PreprocessConfig {
    switch pipeline {
    case "openai":
        return PreprocessConfig(resizeShortestEdge: resize, cropHeight: cropH, cropWidth: cropW,
                                cropRounding: .halfToEven, alpha: .premultipliedDrop)
    case "hf":
        return PreprocessConfig(resizeShortestEdge: resize, cropHeight: cropH, cropWidth: cropW,
                                cropRounding: .floor, alpha: .compositeWhite)
    default:  // "folder": torchvision ImageFolder (convert RGB at load) + OpenAI transform
        return PreprocessConfig(resizeShortestEdge: resize, cropHeight: cropH, cropWidth: cropW,
                                cropRounding: .halfToEven, alpha: .dropBeforeResize)
    }
}

private func maxAbsDiff(_ a: [UInt8], _ b: [UInt8]) -> Int {
    precondition(a.count == b.count)
    var m = 0
    for i in 0..<a.count { m = max(m, abs(Int(a[i]) - Int(b[i]))) }
    return m
}

@Suite("Image preprocessing")
struct ImagePreprocessingTests {
    // MARK: - Fixtures (Pillow reference)

    @Test("every fixture image, every pipeline, matches Pillow (PNG exact, JPEG <= 1)")
    func fixturesMatchPillow() throws {
        let manifest = try loadManifest()
        #expect(manifest.images.count >= 30)
        var pngCases = 0, jpegCases = 0
        var jpegDecodeMax = 0, jpegPipelineMax = 0, jpegDecodeDiffering = 0, jpegDecodeTotal = 0
        for entry in manifest.images {
            let image = try ImageDecoder.decode(contentsOf: fixtureDir.appendingPathComponent(entry.file))
            #expect(image.width == entry.width && image.height == entry.height, "\(entry.file) size")
            #expect(image.channels == entry.decoded_channels, "\(entry.file) channels \(image.channels)")
            if let decodedName = entry.decoded {
                let reference: [UInt8]
                if decodedName.hasSuffix(".png") {
                    let ref = try ImageDecoder.decode(contentsOf: fixtureDir.appendingPathComponent(decodedName))
                    #expect(ref.channels == entry.decoded_channels)
                    reference = ref.pixels
                } else {
                    reference = try fixtureBytes(decodedName)
                }
                #expect(reference.count == image.pixels.count, "\(entry.file) decoded size")
                if reference.count == image.pixels.count {
                    let d = maxAbsDiff(reference, image.pixels)
                    if entry.exact {
                        #expect(d == 0, "\(entry.file): decoded pixels differ from Pillow by up to \(d)")
                    } else {
                        jpegDecodeMax = max(jpegDecodeMax, d)
                        jpegDecodeTotal += reference.count
                        jpegDecodeDiffering += zip(reference, image.pixels).filter { $0 != $1 }.count
                        #expect(d <= 2, "\(entry.file): JPEG decode differs from Pillow by \(d)")
                    }
                }
            }
            for c in entry.cases {
                let cfg = config(pipeline: c.pipeline, order: c.order, resize: c.resize, cropH: c.crop_h, cropW: c.crop_w)
                let size = ImagePreprocessor.resizedSize(width: image.width, height: image.height, shortestEdge: c.resize)
                #expect(size.width == c.resized_w && size.height == c.resized_h, "\(entry.file) resize target")
                #expect(ImagePreprocessor.cropOffset(size: size.width, crop: c.crop_w, rounding: cfg.cropRounding) == c.left)
                #expect(ImagePreprocessor.cropOffset(size: size.height, crop: c.crop_h, rounding: cfg.cropRounding) == c.top)
                let out = try ImagePreprocessor.resizedAndCropped(image, config: cfg)
                #expect(out.width == c.crop_w && out.height == c.crop_h && out.channels == 3)
                let expected = try fixtureBytes(c.expected)
                #expect(expected.count == out.pixels.count)
                guard expected.count == out.pixels.count else { continue }
                let d = maxAbsDiff(expected, out.pixels)
                let label = "\(entry.file) \(c.pipeline) \(c.order) resize \(c.resize) crop \(c.crop_h)x\(c.crop_w)"
                if entry.exact {
                    pngCases += 1
                    #expect(d == 0, "\(label): max difference \(d) vs Pillow")
                } else {
                    jpegCases += 1
                    jpegPipelineMax = max(jpegPipelineMax, d)
                    #expect(d <= 1, "\(label): max difference \(d) vs Pillow")
                }
            }
        }
        print("image fixtures (Pillow \(manifest.pillow_version), installed pass order \(manifest.installed_pass_order)): \(pngCases) PNG cases exact, \(jpegCases) JPEG cases; "
              + "JPEG decode max diff \(jpegDecodeMax) (\(jpegDecodeDiffering)/\(jpegDecodeTotal) bytes differ), "
              + "JPEG after resize+crop max diff \(jpegPipelineMax)")
    }

    @Test("refused inputs throw a clear error")
    func rejectedFixtures() throws {
        let manifest = try loadManifest()
        for r in manifest.rejected {
            #expect(throws: ImageError.self, "\(r.reason)") {
                _ = try ImageDecoder.decode(contentsOf: fixtureDir.appendingPathComponent(r.file))
            }
        }
        do {
            _ = try ImageDecoder.decode(contentsOf: fixtureDir.appendingPathComponent("reject_gray16_8x6.png"))
            Issue.record("reject_gray16_8x6.png decoded without error")
        } catch let e as ImageError {
            #expect(e.description.contains("reject_gray16_8x6.png"))
            #expect(e.description.contains("16-bit grayscale"))
            #expect(!e.description.contains("\n"))
        }
    }

    // MARK: - Geometry by hand

    @Test("centre-crop rounding: 37.5 -> OpenAI 38 / HF 37; 36.5 -> both 36")
    func cropRounding() throws {
        #expect(ImagePreprocessor.cropOffset(size: 299, crop: 224, rounding: .halfToEven) == 38)
        #expect(ImagePreprocessor.cropOffset(size: 299, crop: 224, rounding: .floor) == 37)
        #expect(ImagePreprocessor.cropOffset(size: 297, crop: 224, rounding: .halfToEven) == 36)
        #expect(ImagePreprocessor.cropOffset(size: 297, crop: 224, rounding: .floor) == 36)
        #expect(ImagePreprocessor.cropOffset(size: 298, crop: 224, rounding: .halfToEven) == 37)
        #expect(ImagePreprocessor.cropOffset(size: 224, crop: 224, rounding: .halfToEven) == 0)

        // End to end: a 299x224 image (already at target size, so no resize) whose red channel holds
        // the column index; the first cropped column reveals the offset.
        for (width, openAILeft, hfLeft) in [(299, 38, 37), (297, 36, 36)] {
            var px = [UInt8](repeating: 0, count: width * 224 * 3)
            for y in 0..<224 { for x in 0..<width { px[(y * width + x) * 3] = UInt8(x % 256) } }
            let image = try Image8(width: width, height: 224, channels: 3, pixels: px)
            let openAI = try ImagePreprocessor.resizedAndCropped(image, config: .openAI(imageSize: 224))
            let hf = try ImagePreprocessor.resizedAndCropped(image, config: .huggingFace(imageSize: 224))
            #expect(openAI.pixels[0] == UInt8(openAILeft))
            #expect(hf.pixels[0] == UInt8(hfLeft))
            #expect(openAI.width == 224 && openAI.height == 224)
        }
    }

    @Test("resize target: shortest side n, long side int(n * long / short)")
    func resizeTarget() {
        #expect(ImagePreprocessor.resizedSize(width: 500, height: 375, shortestEdge: 224) == (298, 224))
        #expect(ImagePreprocessor.resizedSize(width: 375, height: 500, shortestEdge: 224) == (224, 298))
        #expect(ImagePreprocessor.resizedSize(width: 3, height: 7, shortestEdge: 224) == (224, 522))
        #expect(ImagePreprocessor.resizedSize(width: 200, height: 100, shortestEdge: 224) == (448, 224))
        #expect(ImagePreprocessor.resizedSize(width: 32, height: 32, shortestEdge: 224) == (224, 224))
        #expect(ImagePreprocessor.resizedSize(width: 28, height: 28, shortestEdge: 224) == (224, 224))
    }

    @Test("bicubic coefficients: fixed-point weights of an exact 2x upscale")
    func coefficients() {
        // 2x upscale 4 -> 8: scale 0.5, support 2, ksize 5. Output 0: centre 0.25, xmin = int(-1.25) -> 0,
        // xmax = int(2.75) = 2; taps at (x + 0.5 - 0.25) = 0.25, 1.25: K = 0.8671875, -0.0703125, sum 0.796875
        // -> 1.0882353, -0.0882353 -> round(· 2^22) = 4564390, -370086.
        let co = PillowResize.coefficients(inSize: 4, outSize: 8)
        #expect(co.ksize == 5)
        #expect(co.bounds[0] == 0 && co.bounds[1] == 2)
        #expect(PillowResize.bicubicFilter(0.25) == 0.8671875 && PillowResize.bicubicFilter(1.25) == -0.0703125)
        #expect(Array(co.weights[0..<5]) == [4564390, -370086, 0, 0, 0])
        // Output 3: centre 1.75, taps 0..<4 at distances -1.25, -0.25, 0.75, 1.75.
        #expect(co.bounds[6] == 0 && co.bounds[7] == 4)
        // 2x downscale 8 -> 4: filterscale 2, support 4, ksize 9 (antialiasing widens the kernel).
        let down = PillowResize.coefficients(inSize: 8, outSize: 4)
        #expect(down.ksize == 9)
        #expect(down.bounds[2] == 0 && down.bounds[3] == 7)  // centre 3: int(-0.5) = 0, int(7.5) = 7
        #expect(PillowResize.bicubicFilter(0) == 1 && PillowResize.bicubicFilter(2) == 0)
        #expect(PillowResize.bicubicFilter(1.5) == -0.0625)
    }

    @Test("resampling pass order: Pillow <= 12 horizontal first, Pillow 13 vertical first for tall downscales")
    func passOrder() throws {
        // 40x130 -> 32x104: dh = 26 > 2 * dw = 16 → vertical first in Pillow 13.
        #expect(PillowResize.verticalFirst(inWidth: 40, inHeight: 130, outWidth: 32, outHeight: 104, order: .pillow13))
        #expect(!PillowResize.verticalFirst(inWidth: 40, inHeight: 130, outWidth: 32, outHeight: 104, order: .horizontalFirst))
        // 375x500 -> 224x298: dh = 202 <= 2 * 151 → horizontal first in both.
        #expect(!PillowResize.verticalFirst(inWidth: 375, inHeight: 500, outWidth: 224, outHeight: 298, order: .pillow13))
        // Upscales never go vertical first.
        #expect(!PillowResize.verticalFirst(inWidth: 10, inHeight: 30, outWidth: 224, outHeight: 672, order: .pillow13))
        // The orders give different bytes on a tall noisy image (uint8 rounding between passes).
        var px = [UInt8](repeating: 0, count: 40 * 130 * 3)
        for i in 0..<px.count { px[i] = UInt8((i &* 2_654_435_761) >> 24 & 0xFF) }
        let tall = try Image8(width: 40, height: 130, channels: 3, pixels: px)
        let a = PillowResize.resize(tall, width: 32, height: 104, order: .horizontalFirst)
        let b = PillowResize.resize(tall, width: 32, height: 104, order: .pillow13)
        #expect(a != b)
        #expect(maxAbsDiff(a.pixels, b.pixels) <= 8)
    }

    // MARK: - Raw arrays (no file)

    @Test("MNIST-style 28x28 grayscale array goes through without a file")
    func mnistRow() throws {
        var px = [UInt8](repeating: 0, count: 28 * 28)
        for y in 0..<28 { for x in 0..<28 { px[y * 28 + x] = UInt8((x * 9 + y * 5) % 256) } }
        let gray = try Image8(width: 28, height: 28, channels: 1, pixels: px)
        let cfg = PreprocessConfig.openAI(imageSize: 224)
        let out = try ImagePreprocessor.resizedAndCropped(gray, config: cfg)
        #expect(out.width == 224 && out.height == 224 && out.channels == 3)
        // Resizing in L then replicating equals resizing the replicated RGB image.
        var rgbPx = [UInt8](repeating: 0, count: 28 * 28 * 3)
        for i in 0..<(28 * 28) { rgbPx[3 * i] = px[i]; rgbPx[3 * i + 1] = px[i]; rgbPx[3 * i + 2] = px[i] }
        let rgb = try Image8(width: 28, height: 28, channels: 3, pixels: rgbPx)
        #expect(try ImagePreprocessor.resizedAndCropped(rgb, config: cfg) == out)
        for i in stride(from: 0, to: out.pixels.count, by: 3) {
            #expect(out.pixels[i] == out.pixels[i + 1] && out.pixels[i] == out.pixels[i + 2])
        }
        let values = try ImagePreprocessor.pixels(gray, config: cfg)
        #expect(values.count == 3 * 224 * 224)
    }

    @Test("CIFAR-style 32x32x3 planar row goes through without a file")
    func cifarRow() throws {
        var row = [UInt8](repeating: 0, count: 3072)
        for i in 0..<3072 { row[i] = UInt8((i * 7 + i / 1024 * 50) % 256) }
        let image = try Image8(width: 32, height: 32, channels: 3, planar: row)
        // Pixel (x = 5, y = 2): R at 2*32+5, G at 1024 + ..., B at 2048 + ...
        let p = (2 * 32 + 5) * 3
        #expect(image.pixels[p] == row[69] && image.pixels[p + 1] == row[1024 + 69] && image.pixels[p + 2] == row[2048 + 69])
        let values = try ImagePreprocessor.pixels(image, config: .openAI(imageSize: 224))
        #expect(values.count == 3 * 224 * 224)
        // Identity geometry (32 -> 32) keeps the exact pixel: check the normalised value of (5, 2).
        let same = try ImagePreprocessor.pixels(image, config: .openAI(imageSize: 32))
        let r = (Float(row[69]) / 255 - 0.48145466) / 0.26862954
        #expect(same[2 * 32 + 5] == r)
        // Data slices work too (e.g. one row of a CIFAR binary file).
        let data = Data([0, 0] + row)
        let fromSlice = try Image8(width: 32, height: 32, channels: 3, planar: data.dropFirst(2))
        #expect(fromSlice == image)
    }

    @Test("bad raw arrays throw")
    func badRawArrays() {
        #expect(throws: ImageError.self) { try Image8(width: 28, height: 28, channels: 1, pixels: [UInt8](repeating: 0, count: 10)) }
        #expect(throws: ImageError.self) { try Image8(width: 2, height: 2, channels: 2, pixels: [UInt8](repeating: 0, count: 8)) }
        #expect(throws: ImageError.self) { try Image8(width: 0, height: 2, channels: 1, pixels: []) }
        #expect(throws: ImageError.self) { try Image8(width: 1 << 15, height: 1 << 14, channels: 1, pixels: []) }
    }

    // MARK: - Normalisation by hand

    @Test("normalisation: (v / 255 - mean) / std, CHW")
    func normalisation() throws {
        // 2x2 RGB, config 2/2 → no resize, no crop. Pixel 0 = (255, 0, 128), pixel 3 = (10, 200, 77).
        let px: [UInt8] = [255, 0, 128, 1, 2, 3, 4, 5, 6, 10, 200, 77]
        let image = try Image8(width: 2, height: 2, channels: 3, pixels: px)
        let v = try ImagePreprocessor.pixels(image, config: .openAI(imageSize: 2))
        #expect(v.count == 12)
        // Hand values: (1 - 0.48145466) / 0.26862954 = 1.9303361; -0.4578275 / 0.26130258 = -1.7520971;
        // (128/255 - 0.40821073) / 0.27577711 = 0.33994877; pixel 3: -1.6462783, 1.2494565, -0.38527465.
        let expected: [(Int, Float)] = [(0, 1.9303361), (4, -1.7520971), (8, 0.33994877),
                                        (3, -1.6462783), (7, 1.2494565), (11, -0.38527465)]
        for (i, e) in expected { #expect(abs(v[i] - e) < 1e-6, "index \(i): \(v[i]) vs \(e)") }
        // writePixels into a batch slot gives the same numbers.
        var batch = [Float](repeating: .nan, count: 24)
        try batch.withUnsafeMutableBufferPointer { b in
            try ImagePreprocessor.writePixels(image, config: .openAI(imageSize: 2), into: UnsafeMutableBufferPointer(rebasing: b[12...]))
        }
        #expect(Array(batch[12...]) == v)
    }

    // MARK: - Alpha

    @Test("alpha modes differ as documented on a transparent pixel")
    func alphaModes() throws {
        // 1x1 is enough with resize 1 (no resampling): stored RGB (200, 100, 0), alpha 0.
        let image = try Image8(width: 1, height: 1, channels: 4, pixels: [200, 100, 0, 0])
        var cfg = PreprocessConfig.openAI(imageSize: 1)
        #expect(try ImagePreprocessor.resizedAndCropped(image, config: cfg).pixels == [0, 0, 0])  // premultiplied: 0
        cfg.alpha = .compositeWhite
        #expect(try ImagePreprocessor.resizedAndCropped(image, config: cfg).pixels == [255, 255, 255])
        cfg.alpha = .dropBeforeResize
        #expect(try ImagePreprocessor.resizedAndCropped(image, config: cfg).pixels == [200, 100, 0])
        // Half alpha: composite (200·128 + 255·127)/255 ≈ 227.4 → 227 etc.
        let half = try Image8(width: 1, height: 1, channels: 4, pixels: [200, 100, 0, 128])
        cfg.alpha = .compositeWhite
        #expect(try ImagePreprocessor.resizedAndCropped(half, config: cfg).pixels == [227, 177, 127])
        cfg.alpha = .premultipliedDrop
        // Premultiply: MULDIV255(200, 128) = 100 → unpremultiply 255·100/128 = 199 (Pillow truncates).
        #expect(try ImagePreprocessor.resizedAndCropped(half, config: cfg).pixels == [199, 99, 0])
    }

    // MARK: - Broken files

    @Test("corrupt, truncated and non-image files throw (no crash)")
    func brokenFiles() throws {
        let jpeg = try fixtureBytes("q75_420_41x53.jpg")
        let png = try fixtureBytes("rgb_40x49.png")
        var cases: [(String, [UInt8])] = [
            ("truncated.jpg", Array(jpeg.prefix(jpeg.count / 2))),
            ("no-eoi.jpg", Array(jpeg.dropLast(2))),
            ("header-only.jpg", Array(jpeg.prefix(3))),
            ("truncated.png", Array(png.prefix(png.count / 2))),
            ("signature-only.png", Array(png.prefix(8))),
            ("text.txt", Array("hello, this is not an image\n".utf8)),
            ("empty.bin", []),
        ]
        var badCRC = png
        badCRC[29] ^= 0xFF  // inside the IHDR CRC
        cases.append(("bad-crc.png", badCRC))
        var badIDAT = png
        for i in 60..<min(120, badIDAT.count) { badIDAT[i] = UInt8(truncatingIfNeeded: i * 37) }
        cases.append(("garbage-idat.png", badIDAT))
        var badJPEG = jpeg
        for i in stride(from: jpeg.count / 3, to: jpeg.count - 2, by: 1) { badJPEG[i] = 0xFF }
        badJPEG[jpeg.count / 3 + 1] = 0xD9  // stray EOI inside the header tables: no SOS (Pillow fails too)
        cases.append(("garbage-tables.jpg", badJPEG))
        var sofZero = jpeg
        if let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && (jpeg[$0 + 1] == 0xC0 || jpeg[$0 + 1] == 0xC2) }) {
            sofZero[sof + 5] = 0; sofZero[sof + 6] = 0  // height 0
            cases.append(("zero-height.jpg", sofZero))
        }
        for (name, bytes) in cases {
            do {
                _ = try ImageDecoder.decode(Data(bytes), name: name)
                Issue.record("\(name): decoded without error")
            } catch let error as ImageError {
                #expect(error.description.hasPrefix("\(name): "), "\(error)")
                #expect(!error.description.contains("\n"))
            }
        }
        // Damage inside the entropy-coded scan is recovered by libjpeg with warnings; Pillow decodes
        // such a file too, so it must decode (not crash, not throw).
        var scanDamage = jpeg
        if let sos = (0..<(jpeg.count - 1)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xDA }) {
            let mid = sos + (jpeg.count - sos) / 2
            for i in mid..<(mid + 40) { scanDamage[i] = UInt8((i * 37) % 255) }
            let damaged = try ImageDecoder.decode(Data(scanDamage), name: "scan-damage.jpg")
            #expect(damaged.width == 41 && damaged.height == 53 && damaged.channels == 3)
        } else {
            Issue.record("no SOS marker in fixture")
        }
        // A PNG missing only its IEND chunk still decodes (Pillow accepts it too).
        let noIEND = try ImageDecoder.decode(Data(png.dropLast(12)), name: "no-iend.png")
        #expect(noIEND.width == 40 && noIEND.height == 49)
        // Missing file.
        #expect(throws: ImageError.self) { try ImageDecoder.decode(contentsOf: fixtureDir.appendingPathComponent("missing.png")) }
    }

    @Test("absurd dimensions are refused before allocating")
    func absurdDimensions() throws {
        // PNG: rewrite IHDR to 100000 x 100000 (fix the CRC so libpng gets that far).
        var png = try fixtureBytes("rgb_40x49.png")
        let dims: [UInt8] = [0x00, 0x01, 0x86, 0xA0, 0x00, 0x01, 0x86, 0xA0]
        for i in 0..<8 { png[16 + i] = dims[i] }
        let crc = crc32(Array(png[12..<29]))
        png[29] = UInt8(crc >> 24); png[30] = UInt8((crc >> 16) & 0xFF); png[31] = UInt8((crc >> 8) & 0xFF); png[32] = UInt8(crc & 0xFF)
        do {
            _ = try ImageDecoder.decode(Data(png), name: "huge.png")
            Issue.record("huge PNG decoded")
        } catch let e as ImageError {
            #expect(e.message.contains("exceed"), "\(e)")
        }
        // JPEG: SOF height/width 60000 x 60000.
        var jpeg = try fixtureBytes("q90_444_48x40.jpg")
        if let sof = (0..<(jpeg.count - 9)).first(where: { jpeg[$0] == 0xFF && jpeg[$0 + 1] == 0xC0 }) {
            jpeg[sof + 5] = 0xEA; jpeg[sof + 6] = 0x60; jpeg[sof + 7] = 0xEA; jpeg[sof + 8] = 0x60
            do {
                _ = try ImageDecoder.decode(Data(jpeg), name: "huge.jpg")
                Issue.record("huge JPEG decoded")
            } catch let e as ImageError {
                #expect(e.message.contains("exceed"), "\(e)")
            }
        } else {
            Issue.record("no SOF0 marker in fixture")
        }
    }

    // MARK: - HF preprocessor_config.json

    @Test("HF preprocessor_config.json parsing")
    func hfConfig() throws {
        let old = """
        {"crop_size": 224, "do_center_crop": true, "do_normalize": true, "do_resize": true,
         "feature_extractor_type": "CLIPFeatureExtractor",
         "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_std": [0.26862954, 0.26130258, 0.27577711],
         "resample": 3, "size": 224}
        """
        #expect(try PreprocessConfig.huggingFace(preprocessorConfig: Data(old.utf8)) == .huggingFace(imageSize: 224))
        let new = """
        {"crop_size": {"height": 336, "width": 336}, "do_center_crop": true, "do_convert_rgb": true,
         "do_normalize": true, "do_rescale": true, "do_resize": true,
         "image_mean": [0.48145466, 0.4578275, 0.40821073], "image_processor_type": "CLIPImageProcessor",
         "image_std": [0.26862954, 0.26130258, 0.27577711], "resample": 3,
         "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 336}}
        """
        #expect(try PreprocessConfig.huggingFace(preprocessorConfig: Data(new.utf8)) == .huggingFace(imageSize: 336))
        let custom = """
        {"size": {"shortest_edge": 256, "longest_edge": null}, "crop_size": {"height": 224, "width": 200},
         "image_mean": 0.5, "image_std": [0.5, 0.5, 0.5]}
        """
        let c = try PreprocessConfig.huggingFace(preprocessorConfig: Data(custom.utf8))
        #expect(c.resizeShortestEdge == 256 && c.cropHeight == 224 && c.cropWidth == 200)
        #expect(c.mean == [0.5, 0.5, 0.5] && c.std == [0.5, 0.5, 0.5] && c.cropRounding == .floor && c.alpha == .compositeWhite)
        #expect(try PreprocessConfig.huggingFace(preprocessorConfig: Data("{}".utf8)) == .huggingFace(imageSize: 224))
        for bad in [#"{"size": {"height": 224, "width": 224}}"#, #"{"resample": 2}"#, #"{"do_center_crop": false}"#,
                    #"{"do_resize": false}"#, #"not json"#, #"{"size": 200, "crop_size": 224}"#] {
            #expect(throws: ImageError.self, "\(bad)") { try PreprocessConfig.huggingFace(preprocessorConfig: Data(bad.utf8)) }
        }
        // Codable round trip.
        let cfg = PreprocessConfig.openAI(imageSize: 224)
        let back = try JSONDecoder().decode(PreprocessConfig.self, from: JSONEncoder().encode(cfg))
        #expect(back == cfg)
        var p13 = cfg
        p13.resizePassOrder = .pillow13
        #expect(try JSONDecoder().decode(PreprocessConfig.self, from: JSONEncoder().encode(p13)) == p13)
        let legacy = #"{"resizeShortestEdge": 224, "cropHeight": 224, "cropWidth": 224, "cropRounding": "halfToEven", "alpha": "premultipliedDrop"}"#
        #expect(try JSONDecoder().decode(PreprocessConfig.self, from: Data(legacy.utf8)) == cfg)
    }
}

/// CRC-32 (PNG chunk checksum), for crafting test files.
private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
        crc ^= UInt32(b)
        for _ in 0..<8 { crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return crc ^ 0xFFFF_FFFF
}
