import BhattiAPI
import BhattiHTTP
import Foundation
import Glibc

/// Why a CLI command failed, and the exit code that says so (SPEC §3).
public enum CLIError: Error, Sendable {
    case usage(String, usage: String)
    /// The server answered with an error.
    case server(status: Int, code: String, message: String)
    /// Nothing answers at the daemon's address.
    case unreachable(String)
    case failure(String)

    public var exitCode: Int32 {
        switch self {
        case .usage: 2
        case .unreachable: 3
        case .server, .failure: 1
        }
    }
}

/// Global options and the daemon client, shared by every command.
public struct CLIContext: Sendable {
    public var url: String
    public var token: String?
    public var json: Bool
    public var yes: Bool

    public static let globalOptions = [
        OptionSpec("--url", kind: .value), OptionSpec("--token", kind: .value),
        OptionSpec("--json", kind: .flag), OptionSpec("--yes", "-y", kind: .flag),
    ]
    public static let defaultURL = "unix:///var/lib/bhatti/api.sock"

    /// Flag, then environment, then `~/.bhatti/config.json`, then the local default socket.
    public static func resolve(_ parsed: ParsedArguments, environment: [String: String]) -> CLIContext {
        var fileURL: String?
        var fileToken: String?
        if let home = environment["HOME"],
            let data = FileManager.default.contents(atPath: home + "/.bhatti/config.json"),
            let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any]
        {
            fileURL = object["url"] as? String
            fileToken = object["token"] as? String
        }
        return CLIContext(
            url: parsed.value("--url") ?? environment["BHATTI_URL"] ?? fileURL ?? defaultURL,
            token: parsed.value("--token") ?? environment["BHATTI_TOKEN"] ?? fileToken,
            json: parsed.has("--json"), yes: parsed.has("--yes"))
    }

    func client() throws -> HTTPClient {
        guard let endpoint = HTTPEndpoint(url: url) else {
            throw CLIError.usage("invalid --url \"\(url)\": use unix:///path/api.sock or http://host:port", usage: "bhatti --url URL …")
        }
        return HTTPClient(endpoint: endpoint)
    }

    var headers: HTTPHeaders {
        var h = HTTPHeaders()
        if let token { h.set("Authorization", "Bearer \(token)") }
        h.set("Content-Type", "application/json")
        return h
    }

    /// Sends a request for `route`; maps transport failures and error envelopes to `CLIError`.
    func request(_ route: APIRoute, query: [(String, String)] = [], body: [UInt8] = [], extraHeaders: HTTPHeaders = []) throws
        -> HTTPClientResponse
    {
        var h = headers
        for (n, v) in extraHeaders { h.set(n, v) }
        let response: HTTPClientResponse
        do { response = try client().send(method: route.method, path: route.target(query: query), headers: h, body: body) } catch let error
            as HTTPClientError
        {
            throw transportError(error)
        }
        if response.status >= 400 { throw serverError(status: response.status, body: response.body) }
        return response
    }

    func transportError(_ error: HTTPClientError) -> CLIError {
        if error.isUnreachable {
            return .unreachable(
                "cannot reach the bhatti daemon at \(url) (\(error)); start it with `make serve` or `bhatti serve`, or pass --url")
        }
        return .failure("talking to \(url): \(error)")
    }

    func serverError(status: Int, body: [UInt8]) -> CLIError {
        if let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: Data(body)) {
            return .server(status: status, code: envelope.error.code, message: envelope.error.message)
        }
        return .server(status: status, code: "http_\(status)", message: String(decoding: body.prefix(500), as: UTF8.self))
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: HTTPClientResponse) throws -> T {
        do { return try JSONDecoder().decode(T.self, from: Data(response.body)) } catch {
            throw CLIError.failure("unexpected reply from the daemon: \(error)")
        }
    }

    /// The one confirmation for destructive commands: `--yes` skips it, a terminal is asked, and
    /// without a terminal the command is refused with the hint (exit 2).
    func confirm(_ question: String) throws {
        if yes { return }
        guard isatty(0) == 1 else { throw UsageError("refusing without --yes (not a terminal): \(question)") }
        FileHandle.standardError.write(Data("\(question) [y/N] ".utf8))
        guard let answer = readLine(), ["y", "yes"].contains(answer.lowercased()) else { throw CLIError.failure("aborted") }
    }

    /// Prints a DTO as indented JSON. Keys are the API's snake_case; `snakeCase` converts a type that
    /// is not an API object (the image manifest) to the same style.
    public func printJSON<T: Encodable>(_ value: T, snakeCase: Bool = false) {
        if let text = Self.json(value, snakeCase: snakeCase) { print(text) }
    }

    static func json<T: Encodable>(_ value: T, snakeCase: Bool = false) -> String? {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        if snakeCase { encoder.keyEncodingStrategy = .convertToSnakeCase }
        guard let data = try? encoder.encode(value) else { return nil }
        // Foundation prints an empty array or object as `[\n\n]`; `[]` and `{}` are what people expect.
        // (A newline never occurs inside a JSON string, so only structure matches.)
        return String(decoding: data, as: UTF8.self)
            .replacingOccurrences(of: #"\[\n\s*\n\s*\]"#, with: "[]", options: .regularExpression)
            .replacingOccurrences(of: #"\{\n\s*\n\s*\}"#, with: "{}", options: .regularExpression)
    }
}
