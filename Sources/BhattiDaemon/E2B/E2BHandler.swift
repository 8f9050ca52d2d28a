import BhattiAPI
import BhattiCore
import BhattiHTTP

/// Everything under `/e2b/`: the E2B control plane (`E2B_API_URL=<daemon>/e2b`, keyed by
/// `X-API-Key`) and envd (`E2B_SANDBOX_URL=<daemon>/e2b/envd`, keyed by each sandbox's
/// `X-Access-Token`), each answering in its own protocol's error shape. See docs/e2b.md.
struct E2BHandler {
    let controlPlane: E2BControlPlane
    let envd: E2BEnvd
    let gate: Gate

    static let prefix = "/e2b/"

    /// The rate-limit bucket of a control-plane call, as the native API's: a create (from a template
    /// or a snapshot) or a fork makes sandboxes; everything else reads or changes one.
    static func requestClass(_ request: HTTPRequest, _ path: [Substring]) -> RequestClass {
        guard request.method == "POST" else { return .read }
        let parts = path.first == "v2" ? Array(path.dropFirst()) : path
        return parts == ["sandboxes"] || (parts.count == 3 && parts[0] == "sandboxes" && parts[2] == "fork") ? .create : .read
    }

    func handle(_ request: HTTPRequest) async -> HTTPResponse {
        let path = request.path.dropFirst(Self.prefix.count).split(separator: "/")
        if path.first == "envd" { return await envd.handle(request, path: Array(path.dropFirst())) }
        let caller: Caller
        do { caller = try gate.admit(request, as: Self.requestClass(request, path), apiKeyHeader: "X-API-Key") } catch {
            var response = E2BError(HTTPStatusMapping.status(for: error.error.code), error.error.message).response
            if let wait = error.retryAfter { response.headers.set("Retry-After", String(wait)) }
            return response
        }
        do { return try await controlPlane.handle(request, path: path, caller: caller) } catch let error as E2BError {
            return error.response
        } catch let error as BhattiError {
            let message = error.code == .internal ? "internal error" : error.message
            return E2BError(HTTPStatusMapping.status(for: error.code), message).response
        } catch {
            return E2BError(500, "internal error").response
        }
    }
}
