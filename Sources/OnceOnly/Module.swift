// The Swift SDK for the OnceOnly API; see OnceOnly.swift.
