/// What the router makes of a request: an endpoint, a path that is served but not for this method
/// (405), or no such path (404).
public enum RouteMatch: Sendable, Equatable {
    case found(APIRoute)
    /// `allowed` lists the path's methods in table order; `needsKey` is false only for `/health`,
    /// whose wrong methods are refused before any key check, as its right ones are answered.
    case methodNotAllowed(allowed: [String], needsKey: Bool = true)
    case notFound

    /// The route found, if any.
    public var route: APIRoute? {
        if case .found(let route) = self { route } else { nil }
    }

    /// Whether the request must carry an API key before it is answered, even with an error.
    public var needsKey: Bool {
        switch self {
        case .found(let route): route.needsKey
        case .methodNotAllowed(_, let needsKey): needsKey
        case .notFound: true
        }
    }
}

extension APIRoute {
    /// Finds the route for a request. `path` is the percent-decoded path the server reads
    /// (`HTTPRequest.path`): it is split at `/` with empty segments dropped, so `//v1/sandboxes/`
    /// is `/v1/sandboxes`, and a parameter never holds a `/`.
    public static func match(method: String, path: String) -> RouteMatch {
        let parts = segments(path)
        var allowed: [String] = []
        var needsKey = true
        for entry in table {
            guard let parameters = entry.parameters(parts) else { continue }
            if entry.passThrough || entry.method == method { return .found(entry.make(parameters, method)) }
            allowed.append(entry.method)
            needsKey = entry.needsKey
        }
        return allowed.isEmpty ? .notFound : .methodNotAllowed(allowed: allowed, needsKey: needsKey)
    }

    /// One row per method and path. Each row is only its constructor: the method and template come
    /// from the case's `signature`, so the table and the client's paths cannot drift apart.
    static let table: [Entry] = [
        Entry { _, _ in .health }, Entry(method: "HEAD") { _, _ in .health },
        Entry { _, _ in .listSandboxes }, Entry { _, _ in .createSandbox },
        Entry { p, _ in .sandbox(p[0]) }, Entry { p, _ in .editSandbox(p[0]) }, Entry { p, _ in .destroySandbox(p[0]) },
        Entry { p, _ in .pause(p[0]) }, Entry { p, _ in .stop(p[0]) }, Entry { p, _ in .start(p[0]) },
        Entry { p, _ in .createSnapshot(p[0]) }, Entry { p, _ in .saveImage(p[0]) },
        Entry { p, _ in .exec(p[0]) }, Entry { p, _ in .execSocket(p[0]) },
        Entry { p, _ in .readFile(p[0]) }, Entry { p, _ in .statFile(p[0]) }, Entry { p, _ in .writeFile(p[0]) },
        Entry { p, _ in .shell(p[0]) }, Entry { p, _ in .sessions(p[0]) },
        Entry { p, _ in .publish(p[0]) }, Entry { p, _ in .publishRules(p[0]) }, Entry { p, _ in .unpublish(p[0], port: p[1]) },
        Entry(passThrough: true) { p, method in .proxy(p[0], port: p[1], method: method) },
        Entry { _, _ in .snapshots }, Entry { p, _ in .restoreSnapshot(p[0]) }, Entry { p, _ in .deleteSnapshot(p[0]) },
        Entry { _, _ in .images }, Entry { p, _ in .image(p[0]) }, Entry { p, _ in .deleteImage(p[0]) },
        Entry { p, _ in .importImage(p[0]) },
        Entry { _, _ in .users }, Entry { _, _ in .createUser },
        Entry { p, _ in .editUser(p[0]) }, Entry { p, _ in .deleteUser(p[0]) }, Entry { p, _ in .rotateKey(p[0]) },
        Entry { _, _ in .secrets }, Entry { _, _ in .setSecret }, Entry { p, _ in .deleteSecret(p[0]) },
        Entry { _, _ in .events },
    ]

    struct Entry: Sendable {
        let method: String
        let template: [String]
        /// Any method, and any path below the template (the proxy's upstream path).
        let passThrough: Bool
        let needsKey: Bool
        let make: @Sendable (_ parameters: [String], _ method: String) -> APIRoute

        init(method: String? = nil, passThrough: Bool = false, _ make: @escaping @Sendable ([String], String) -> APIRoute) {
            // Built once with blank parameters, only to read the case's method and template.
            let probe = make(["", ""], "")
            let (ownMethod, template, _) = probe.signature
            self.method = method ?? ownMethod
            self.template = APIRoute.segments(template)
            self.passThrough = passThrough
            self.needsKey = probe.needsKey
            self.make = make
        }

        /// The parameters, in template order, when `parts` is this row's path.
        func parameters(_ parts: [String]) -> [String]? {
            guard passThrough ? parts.count >= template.count : parts.count == template.count else { return nil }
            var parameters: [String] = []
            for (expected, part) in zip(template, parts) {
                if expected.hasPrefix(":") { parameters.append(part) } else if expected != part { return nil }
            }
            return parameters
        }
    }
}
