import Foundation

/// A self-contained SVG line plot of accuracy after each task, one line per method.
public struct AccuracyPlot: Sendable {
    public struct Series: Sendable {
        public var name: String
        public var values: [Double]   // accuracy in percent, one per task
        public init(name: String, values: [Double]) { self.name = name; self.values = values }
    }

    public var title: String
    public var series: [Series]

    public init(title: String, series: [Series]) {
        self.title = title
        self.series = series
    }

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

    public func svg(width: Int = 720, height: Int = 420) -> String {
        let left = 56.0, right = 190.0, top = 40.0, bottom = 48.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        let tasks = max(series.map(\.values.count).max() ?? 1, 1)
        let all = series.flatMap(\.values).filter(\.isFinite)
        let lo = max(0, ((all.min() ?? 0) / 10).rounded(.down) * 10)
        let hi = min(100, max(lo + 10, ((all.max() ?? 100) / 10).rounded(.up) * 10))
        func x(_ i: Int) -> Double { left + (tasks == 1 ? plotW / 2 : plotW * Double(i) / Double(tasks - 1)) }
        func y(_ v: Double) -> Double { top + plotH * (1 - (v - lo) / (hi - lo)) }
        var out = [String]()
        out.append("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">")
        out.append("<rect width=\"100%\" height=\"100%\" fill=\"white\"/>")
        out.append("<text x=\"\(Int(left))\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(escapeXML(title))</text>")
        // Grid and y axis every 10 points.
        var v = lo
        while v <= hi + 1e-9 {
            let yy = fmt(y(v))
            out.append("<line x1=\"\(fmt(left))\" y1=\"\(yy)\" x2=\"\(fmt(left + plotW))\" y2=\"\(yy)\" stroke=\"#ddd\"/>")
            out.append("<text x=\"\(fmt(left - 8))\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\">\(Int(v))</text>")
            v += 10
        }
        for i in 0..<tasks {
            out.append("<text x=\"\(fmt(x(i)))\" y=\"\(fmt(top + plotH + 18))\" text-anchor=\"middle\">\(i + 1)</text>")
        }
        out.append("<text x=\"\(fmt(left + plotW / 2))\" y=\"\(height - 10)\" text-anchor=\"middle\">task</text>")
        out.append("<text transform=\"translate(16 \(fmt(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">accuracy on seen classes (%)</text>")
        for (k, s) in series.enumerated() {
            let color = Self.palette[k % Self.palette.count]
            let points = s.values.enumerated().filter { $0.element.isFinite }.map { "\(fmt(x($0.offset))),\(fmt(y($0.element)))" }
            if points.count > 1 {
                out.append("<polyline fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(points.joined(separator: " "))\"/>")
            }
            for p in points {
                let c = p.split(separator: ",")
                out.append("<circle cx=\"\(c[0])\" cy=\"\(c[1])\" r=\"3\" fill=\"\(color)\"/>")
            }
            let ly = top + 8 + Double(k) * 18
            out.append("<line x1=\"\(fmt(left + plotW + 16))\" y1=\"\(fmt(ly))\" x2=\"\(fmt(left + plotW + 36))\" y2=\"\(fmt(ly))\" stroke=\"\(color)\" stroke-width=\"2\"/>")
            out.append("<text x=\"\(fmt(left + plotW + 42))\" y=\"\(fmt(ly + 4))\">\(escapeXML(s.name))</text>")
        }
        out.append("</svg>")
        return out.joined(separator: "\n") + "\n"
    }
}

func fmt(_ v: Double) -> String { String(format: "%.1f", v) }

func escapeXML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
}
