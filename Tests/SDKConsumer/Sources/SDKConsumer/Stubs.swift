import Foundation

// The application functions the README's snippets call, so that the snippets compile as they
// are written. scripts/check-sdk-consumer adds ReadmeSnippets.swift next to this file.

func chargeCustomer() async throws {}

struct TicketSummary: Codable, Sendable {
    let text: String
}

func summarizeTicket() async throws -> TicketSummary { TicketSummary(text: "") }

struct Mailer: Sendable {
    func sendWelcome(to userId: String) async throws {}
}

let mailer = Mailer()

struct LLM: Sendable {
    func summarize(_ ticket: String) async throws -> TicketSummary { TicketSummary(text: ticket) }
}

let llm = LLM()
