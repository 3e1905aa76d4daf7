import Hummingbird
import OnceCore
import OnceStore

extension APIRoutes {
    var toolRoutes: [Route] {
        [
            Route(method: .post, path: "tools", handler: upsertTool),
            Route(method: .get, path: "tools", handler: listTools),
            Route(method: .get, path: "tools/:name", handler: getTool),
            Route(method: .delete, path: "tools/:name", handler: deleteTool),
            Route(method: .post, path: "tools/:name/toggle", handler: toggleTool),
        ]
    }

    // MARK: Tools registry (API §10)

    @Sendable func upsertTool(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let input = try await decode(ToolCreateRequest.self, request)
        if let problem = ToolURLRule.problem(input.url, allowPrivate: configuration.allowPrivateToolURLs) {
            throw APIError.invalid(
                FieldIssue(
                    type: "value_error", loc: ["body", "url"], msg: "Value error, " + problem, input: .string(input.url)
                ))
        }
        var sealed: SealedSecret?
        if let secret = input.secret {
            guard let box = configuration.toolSecrets else {
                context.logger.error("a tool secret arrived but the server has no tool secret key")
                throw APIError.internal(requestId: context.requestId)
            }
            sealed = SealedSecret(
                sealed: try box.seal(secret), id: ToolSecretBox.newSecretId(), mask: SealedSecret.mask(of: secret))
        }
        let plan = context.account.plan
        let max = Entitlements.of(plan).tools
        let written = try await store.upsertTool(
            accountId: context.account.accountId,
            ToolUpsert(
                scopeId: input.scopeId, name: input.name, url: input.url, secret: sealed, timeoutMs: input.timeoutMs,
                maxRetries: input.maxRetries, enabled: input.enabled, description: input.description),
            maxTools: max)
        switch written {
        case .stored(let tool):
            context.logger.info("tool stored", metadata: ["tool": "\(tool.name)", "scope_id": "\(tool.scopeId)"])
            return JSONResponse.make(Self.toolJSON(tool))
        case .planLimit(let max):
            throw APIError.planLimit("\(plan.rawValue.uppercased()) plan limit: max \(max) tools")
        case .secretRequired:
            throw APIError.invalid(.missing(["body", "auth", "secret"]))
        }
    }

    @Sendable func listTools(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let query = try request.query(ToolListQuery.self)
        let tools = try await store.tools(accountId: context.account.accountId, scopeId: query.scope.scopeId)
        return JSONResponse.make(.array(tools.map(Self.toolJSON)))
    }

    @Sendable func getTool(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (name, scope) = try toolAddress(request, context)
        guard let tool = try await store.tool(accountId: context.account.accountId, scopeId: scope, name: name) else {
            throw APIError.notFound("no tool \(name) in scope \(scope)")
        }
        return JSONResponse.make(Self.toolJSON(tool))
    }

    @Sendable func toggleTool(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (name, scope) = try toolAddress(request, context)
        let input = try await decode(ToolToggleRequest.self, request)
        guard
            let tool = try await store.setToolEnabled(
                accountId: context.account.accountId, scopeId: scope, name: name, enabled: input.enabled)
        else { throw APIError.notFound("no tool \(name) in scope \(scope)") }
        return JSONResponse.make(Self.toolJSON(tool))
    }

    @Sendable func deleteTool(_ request: Request, context: AuthenticatedContext) async throws -> Response {
        let (name, scope) = try toolAddress(request, context)
        guard try await store.deleteTool(accountId: context.account.accountId, scopeId: scope, name: name) else {
            throw APIError.notFound("no tool \(name) in scope \(scope)")
        }
        return JSONResponse.make(.object(["ok": .bool(true), "deleted": .string(name), "scope_id": .string(scope)]))
    }

    private func toolAddress(_ request: Request, _ context: AuthenticatedContext) throws -> (String, String) {
        let name = try context.pathSegment("name")
        let scope = try request.query(ToolScopeQuery.self)
        // swift-format-ignore: NeverForceUnwrap
        return (name, scope.scopeId!)  // ToolScopeQuery answers nil only for `all`, which it refuses here
    }

    /// The tool as clients see it: never the secret, only its id and mask (API §10.1).
    static func toolJSON(_ tool: ToolRecord) -> JSONValue {
        .object([
            "name": .string(tool.name), "scope_id": .string(tool.scopeId), "url": .string(tool.url),
            "auth": .object(["type": .string(tool.authType)]),
            "timeout_ms": .int(Int64(tool.timeoutMs)), "max_retries": .int(Int64(tool.maxRetries)),
            "enabled": .bool(tool.enabled), "description": LeaseView.text(tool.description),
            "has_secret": .bool(tool.secret != nil), "secret_id": LeaseView.text(tool.secret?.id),
            "secret_mask": LeaseView.text(tool.secret?.mask), "created_at": .string(tool.createdAt.iso8601),
            "updated_at": .string(tool.updatedAt.iso8601),
        ])
    }
}
