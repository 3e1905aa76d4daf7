import Foundation
import OnceOnly
import Testing

@Suite("JSON values and result coercion")
struct JSONTests {
    @Test("parse, access and serialise")
    func roundTrip() throws {
        let text = #"{"a":1,"b":1.5,"c":"x/y","d":[true,null],"e":{"f":"\u0001"},"g":12345678901234}"#
        let json = try #require(JSON(parsing: Data(text.utf8)))
        #expect(json["a"] == .int(1) && json["b"] == .double(1.5))
        #expect(json["a"]?.intValue == 1 && json["b"]?.intValue == nil && json["b"]?.doubleValue == 1.5)
        #expect(json["d"]?[0]?.boolValue == true && json["d"]?[1]?.isNull == true && json["d"]?[2] == nil)
        #expect(json["g"]?.intValue == 12_345_678_901_234)
        #expect(json.serialized() == text, "sorted members, / unescaped, control characters as \\u00XX")
        #expect(JSON(parsing: Data("nope".utf8)) == nil)
        #expect(JSON.double(3).serialized() == "3" && JSON.double(.infinity).serialized() == "null")
    }

    @Test("string interpolation, and OnceOnly.JSON resolves (the client type no longer shadows the module)")
    func interpolationAndModuleName() {
        let tag = 7
        let meta: JSONObject = ["run_id": "run_\(tag)", "n": 1]
        #expect(meta["run_id"] == .string("run_7"))
        let qualified: OnceOnly.JSON = "x_\(tag)"
        #expect(qualified == "x_7")
        #expect(OnceOnly.OnceOnlyClient.version == OnceOnlyClient.version)
    }

    @Test("Codable bridges")
    func codable() throws {
        struct Invoice: Codable, Equatable { let id: String; let amount: Double }
        let json = try JSON(encoding: Invoice(id: "INV-1", amount: 99.5))
        #expect(json == ["id": "INV-1", "amount": 99.5])
        #expect(try json.decode(as: Invoice.self) == Invoice(id: "INV-1", amount: 99.5))
        let value: JSON = ["k": [1, 2]]
        let data = try JSONEncoder().encode(value)
        #expect(try JSONDecoder().decode(JSON.self, from: data) == ["k": [1, 2]])
    }

    @Test("JavaScript truthiness")
    func truthiness() {
        let falsy: [JSON] = [.null, false, 0, 0.0, ""]
        let truthy: [JSON] = [true, 1, "0", [], [:]]
        #expect(falsy.filter(\.isTruthy).isEmpty)
        #expect(truthy.filter(\.isTruthy).count == truthy.count)
    }

    @Test("result types coerce like the TypeScript SDK")
    func coercion() {
        let run = AIRun(raw: ["ok": 1, "status": nil, "version": "3", "ttl": "60", "lease_id": 5, "result": [1]])
        #expect(run.ok && run.status == "" && run.key == "" && run.version == 3)
        #expect(run.ttl == nil && run.leaseId == nil && run.result == nil)
        let status = AIStatus(raw: ["status": "completed", "retry_after_sec": 2.5])
        #expect(status.isTerminal && status.retryAfterSec == 2.5 && !status.ok)
        #expect(!AIStatus(raw: ["status": "canceled"]).isTerminal)
        let decision = AIToolResult(raw: ["allowed": nil, "decision": 7])
        #expect(!decision.allowed && decision.decision == "7")
        let policy = Policy(raw: ["max_actions_per_hour": 5], fallbackAgentId: "a")
        #expect(policy.agentId == "a" && policy.policy == ["max_actions_per_hour": 5] && policy.maxActionsPerHour == 5)
        let log = AgentLogItem(raw: ["spend_usd": "0.25"])
        #expect(log.allowed && log.decision == "allowed" && log.reason == "" && log.spendUsd == 0.25)
    }
}
