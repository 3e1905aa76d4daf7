import OnceCore

/// The usage page's bar chart, laid out on the server: numbers for an SVG template, so the
/// page needs neither JavaScript nor an image. Per day three bars: check-locks, leases
/// acquired, leases failed, on one linear scale with round grid lines.
struct UsageChart {
    static let width = 900
    static let height = 240
    static let left = 48
    static let right = 888
    static let top = 12
    static let bottom = 212

    var values: [String: Any?]

    init(days: [(day: String, metrics: DayMetrics)]) {
        let series: [(name: String, metric: DailyMetric)] = [
            ("checks", .checksTotal), ("leases", .aiAcquired), ("failed", .aiFailed),
        ]
        let peak = days.flatMap { d in series.map { d.metrics[$0.metric] } }.max() ?? 0
        let scaleTop = Self.niceCeiling(max(peak, 1))
        let plot = Double(Self.bottom - Self.top)
        let slot = Double(Self.right - Self.left) / Double(max(days.count, 1))
        let barWidth = max(1, (slot * 0.8) / Double(series.count))
        var bars: [[String: Any?]] = []
        var labels: [[String: Any?]] = []
        for (i, day) in days.enumerated() {
            let x0 = Double(Self.left) + slot * Double(i) + slot * 0.1
            for (j, s) in series.enumerated() {
                let value = day.metrics[s.metric]
                let h = plot * Double(value) / Double(scaleTop)
                bars.append([
                    "series": s.name, "x": Self.fmt(x0 + barWidth * Double(j)), "y": Self.fmt(Double(Self.bottom) - h),
                    "width": Self.fmt(barWidth - 1), "height": Self.fmt(h), "title": "\(day.day): \(value) \(s.name)",
                ])
            }
            // Every day on a 14-day chart, every third on a longer one.
            if days.count <= 14 || i % 3 == 0 || i == days.count - 1 {
                labels.append([
                    "x": Self.fmt(Double(Self.left) + slot * (Double(i) + 0.5)), "label": String(day.day.suffix(5)),
                ])
            }
        }
        let grid = (0...4).map { step -> [String: Any?] in
            let value = scaleTop * Int64(step) / 4
            return ["y": Self.fmt(Double(Self.bottom) - plot * Double(step) / 4), "label": String(value)]
        }
        values = [
            "width": Self.width, "height": Self.height, "left": Self.left, "right": Self.right, "labelX": Self.left - 6,
            "dayY": Self.bottom + 18,
            "bars": bars, "days": labels, "grid": grid,
        ]
    }

    /// The smallest of 1, 2, 5 × 10ⁿ (or a multiple of 4 for clean quarter lines) at or above `value`.
    static func niceCeiling(_ value: Int64) -> Int64 {
        var magnitude: Int64 = 1
        while magnitude * 10 <= value { magnitude *= 10 }
        for factor: Int64 in [1, 2, 4, 5, 8, 10] where factor * magnitude >= value {
            let candidate = factor * magnitude
            if candidate % 4 == 0 || candidate < 4 { return max(candidate, 4) }
        }
        return 10 * magnitude
    }

    static func fmt(_ x: Double) -> String {
        let rounded = (x * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
