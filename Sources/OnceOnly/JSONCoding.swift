import Foundation

/// The SDK's one `JSONEncoder`/`JSONDecoder` set-up, so metadata, results and derived keys treat
/// `Date` and `Data` the same way everywhere, and the way JavaScript's `JSON.stringify` does
/// where that matters.
enum JSONCoding {
    /// How `Data` is written.
    enum DataForm {
        /// base64 text, `JSONEncoder`'s default: what ``JSON/decode(as:)`` reads back.
        case base64
        /// Node's `Buffer.toJSON()`: `{"type": "Buffer", "data": [bytes]}`, for keys shared with
        /// the TypeScript SDK.
        case nodeBuffer
    }

    static func encoder(data: DataForm) -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .custom { date, encoder in
            var container = encoder.singleValueContainer()
            try container.encode(JavaScriptDate.isoString(date))
        }
        switch data {
        case .base64: encoder.dataEncodingStrategy = .base64
        case .nodeBuffer:
            encoder.dataEncodingStrategy = .custom { data, encoder in
                try NodeBuffer(type: "Buffer", data: Array(data)).encode(to: encoder)
            }
        }
        return encoder
    }

    /// Reads `Date`s written by ``encoder(data:)`` (ISO-8601 text, with or without fractional
    /// seconds) and, for values stored by older versions, `JSONEncoder`'s default number form.
    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let container = try decoder.singleValueContainer()
            if let seconds = try? container.decode(Double.self) { return Date(timeIntervalSinceReferenceDate: seconds) }
            let text = try container.decode(String.self)
            guard let date = JavaScriptDate.parse(text) else {
                throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an ISO-8601 date: \(text)")
            }
            return date
        }
        return decoder
    }

    static func json(encoding value: some Encodable, data: DataForm) throws -> JSON {
        let bytes = try encoder(data: data).encode(value)
        return try JSONDecoder().decode(JSON.self, from: bytes)
    }

    /// `value` as the JSON object an API parameter named `name` needs: `nil` when it encodes to
    /// `null` (e.g. an optional that is `nil`), ``OnceOnlyError/invalidArgument(_:)`` when it is
    /// not an object or cannot be encoded.
    static func object(_ value: some Encodable, for name: String) throws -> JSONObject? {
        let json: JSON
        do {
            json = try JSON(encoding: value)
        } catch {
            throw OnceOnlyError.invalidArgument("\(name) could not be encoded as JSON: \(error)")
        }
        switch json {
        case .null: return nil
        case .object(let members): return members
        default: throw OnceOnlyError.invalidArgument("\(name) must encode to a JSON object, not \(json)")
        }
    }

    private struct NodeBuffer: Encodable {
        let type: String
        let data: [UInt8]
    }
}

/// JavaScript's `Date.prototype.toISOString()`, exactly: UTC, milliseconds truncated toward zero
/// as a JavaScript `Date` holds them, a four-digit year for 0…9999 and a signed six-digit one
/// otherwise.
enum JavaScriptDate {
    static func isoString(_ date: Date) -> String {
        // Round to microseconds first so that 0.123 s, stored as 0.12299999…, stays 123 ms.
        let micros = (date.timeIntervalSince1970 * 1_000_000).rounded()
        let millis = Int64((micros / 1000).rounded(.towardZero))
        let (days, msOfDay) = floorDivMod(millis, 86_400_000)
        let (year, month, day) = civil(fromDays: days)
        let yearText: String
        if (0...9999).contains(year) {
            yearText = pad(year, 4)
        } else {
            yearText = (year < 0 ? "-" : "+") + pad(abs(year), 6)
        }
        let hours = msOfDay / 3_600_000
        let minutes = msOfDay / 60_000 % 60
        let seconds = msOfDay / 1000 % 60
        let ms = msOfDay % 1000
        return "\(yearText)-\(pad(month, 2))-\(pad(day, 2))T\(pad(hours, 2)):\(pad(minutes, 2)):\(pad(seconds, 2))."
            + "\(pad(ms, 3))Z"
    }

    /// Parses ISO-8601 date-time text as `toISOString()` and most servers write it.
    static func parse(_ text: String) -> Date? {
        if let date = try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text) { return date }
        return try? Date.ISO8601FormatStyle().parse(text)
    }

    private static func pad(_ value: Int64, _ width: Int) -> String {
        let digits = String(value)
        return String(repeating: "0", count: max(0, width - digits.count)) + digits
    }

    private static func floorDivMod(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        let q = a / b
        let r = a % b
        return r < 0 ? (q - 1, r + b) : (q, r)
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's `civil_from_days`).
    private static func civil(fromDays days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
