import Foundation

/// A self-contained HTML report: a results table, the accuracy plot inline, and notes.
public struct HTMLReport: Sendable {
    public var title: String
    public var header: [String]
    public var rows: [[String]]
    public var plotSVG: String
    public var notes: [String]

    public init(title: String, header: [String], rows: [[String]], plotSVG: String, notes: [String]) {
        self.title = title; self.header = header; self.rows = rows; self.plotSVG = plotSVG; self.notes = notes
    }

    public func html() -> String {
        let head = header.map { "<th>\(escapeXML($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\(escapeXML($0))</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        let noteList = notes.map { "<li>\(escapeXML($0))</li>" }.joined(separator: "\n")
        return """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escapeXML(title))</title>
        <style>body{font-family:Helvetica,Arial,sans-serif;margin:2em;color:#222}table{border-collapse:collapse;margin:1em 0}
        th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
        </style></head><body>
        <h1>\(escapeXML(title))</h1>
        <table><tr>\(head)</tr>
        \(body)
        </table>
        \(plotSVG)
        <ul>
        \(noteList)
        </ul>
        </body></html>

        """
    }
}

/// Comma-separated values with RFC 4180 quoting.
public enum CSV {
    public static func encode(header: [String], rows: [[String]]) -> String {
        ([header] + rows).map { $0.map(quote).joined(separator: ",") }.joined(separator: "\n") + "\n"
    }

    static func quote(_ field: String) -> String {
        field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" })
            ? "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : field
    }
}
