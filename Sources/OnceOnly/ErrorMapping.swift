import Foundation

/// Turns non-2xx answers into ``OnceOnlyError`` exactly as the TypeScript SDK does (SDK.md §3.5).
enum ErrorMapping {
    /// `json.detail` when the body is an object with a `detail` member, else the whole body.
    static func detail(of response: OnceOnlyResponse) -> JSON? {
        guard let json = response.json else { return nil }
        if case .object(let members) = json, let detail = members["detail"] { return detail }
        return json
    }

    /// `detail.error ?? detail.message` when that is a non-blank string, else a non-blank string
    /// detail, else `fallback`.
    static func errorText(_ detail: JSON?, default fallback: String) -> String {
        switch detail {
        case .object(let members)?:
            let candidate = members["error"].flatMap { $0.isNull ? nil : $0 } ?? members["message"]
            if let text = candidate?.stringValue, !isBlank(text) { return text }
        case .string(let text)? where !isBlank(text):
            return text
        default:
            break
        }
        return fallback
    }

    /// An object detail as is; a non-blank string as `{"detail": text}`; anything else `{}`.
    static func detailObject(_ detail: JSON?) -> JSONObject {
        switch detail {
        case .object(let members)?: members
        case .string(let text)? where !isBlank(text): ["detail": .string(text)]
        default: [:]
        }
    }

    static let authLikeTexts: Set<String> = ["forbidden", "invalid api key", "api key disabled"]
    static let authLikeCodes: Set<String> = ["invalid_api_key", "api_key_disabled", "forbidden"]

    /// Whether a 403 detail says the key itself is the problem.
    static func isAuthLike(_ detail: JSON?) -> Bool {
        func normalised(_ value: JSON?) -> String? {
            value?.stringValue?.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
        }
        switch detail {
        case .string(let text)?:
            return authLikeTexts.contains(normalised(.string(text)) ?? "")
        case .object(let members)?:
            if let code = normalised(members["error"]), authLikeCodes.contains(code) { return true }
            if let text = normalised(members["message"]), authLikeTexts.contains(text) { return true }
            return false
        default:
            return false
        }
    }

    /// The error for a non-2xx answer.
    static func error(for response: OnceOnlyResponse) -> OnceOnlyError {
        let detail = detail(of: response)
        switch response.status {
        case 401:
            return .unauthorized(message: errorText(detail, default: "Invalid API Key (Unauthorized)."))
        case 403:
            if detail?["error"]?.stringValue == "feature_not_available" {
                return .api(
                    status: 403, detail: detailObject(detail),
                    message: errorText(detail, default: "Feature not available for this plan."))
            }
            if isAuthLike(detail) {
                return .unauthorized(message: errorText(detail, default: "Invalid API Key (Unauthorized)."))
            }
            return .api(
                status: 403, detail: detailObject(detail), message: errorText(detail, default: "API Error (403)"))
        case 402:
            return .overLimit(detail: detail?.objectValue ?? [:])
        case 429:
            return .rateLimited(
                retryAfter: response.retryAfter,
                message: errorText(detail, default: "Rate limit exceeded. Please slow down."))
        case 422:
            return .validation(message: errorText(detail, default: "Validation Error: " + response.text))
        default:
            return .api(
                status: response.status, detail: detailObject(detail),
                message: errorText(detail, default: "API Error (\(response.status))"))
        }
    }

    static func isBlank(_ text: String) -> Bool { text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty }
}
