// Access to the lists bundled in Sources/Datasets/Resources (wnids, class names).

import Foundation

enum ReaderResources {
    /// Lines of `Resources/<folder>/<name>.txt` (one item per line, blanks dropped).
    static func lines(_ folder: String, _ name: String) throws -> [String] {
        let url = Bundle.module.url(forResource: name, withExtension: "txt", subdirectory: "Resources/\(folder)")
            ?? Bundle.module.resourceURL?.appendingPathComponent("Resources/\(folder)/\(name).txt")
        guard let url, ReaderFiles.isFile(url) else {
            throw DatasetError.missingFile(path: "Resources/\(folder)/\(name).txt",
                                           expected: "a list bundled with the Datasets module")
        }
        return try ReaderFiles.lines(of: url, expected: "a bundled list").map(\.text)
    }

    /// WordNet ids of label 0, 1, … (`Resources/wnids/<dataset>.txt`).
    static func wnids(_ dataset: String) throws -> [String] { try lines("wnids", dataset) }

    /// Class names of label 0, 1, … (`Resources/class_names/<dataset>.txt`).
    static func classNames(_ dataset: String) throws -> [String] { try lines("class_names", dataset) }

    /// Names in the order of `wnids` looked up through the bundled `<dataset>` wnid → name pairing;
    /// nil if any wnid is unknown.
    static func classNames(forWnids wnids: [String], dataset: String) -> [String]? {
        guard let known = try? self.wnids(dataset), let names = try? classNames(dataset),
              known.count == names.count else { return nil }
        let byWnid = Dictionary(zip(known, names), uniquingKeysWith: { a, _ in a })
        let out = wnids.compactMap { byWnid[$0] }
        return out.count == wnids.count ? out : nil
    }
}
