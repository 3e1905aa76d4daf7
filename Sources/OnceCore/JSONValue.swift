import OnceEncoding

/// The engine's name for the one JSON value type (``OnceEncoding/JSONValue``), so that code
/// importing only OnceCore (the stores, the server) keeps reading it as before. Stored
/// documents, size limits and `result_hash` use its ``OnceEncoding/JSONValue/canonicalText``.
public typealias JSONValue = OnceEncoding.JSONValue
