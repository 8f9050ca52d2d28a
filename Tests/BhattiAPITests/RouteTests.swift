import Foundation
import Testing

@testable import BhattiAPI

/// The route table as data: every endpoint's method and path, the 404/405 split, and the client's
/// paths matching back to the route they were built from.
@Suite("Routes")
struct RouteTests {
    /// Every route, with the request line a client sends for it.
    static let routes: [(APIRoute, String, String)] = [
        (.health, "GET", "/health"),
        (.listSandboxes, "GET", "/v1/sandboxes"),
        (.createSandbox, "POST", "/v1/sandboxes"),
        (.sandbox("dev"), "GET", "/v1/sandboxes/dev"),
        (.editSandbox("dev"), "PATCH", "/v1/sandboxes/dev"),
        (.destroySandbox("sbx_1a2b"), "DELETE", "/v1/sandboxes/sbx_1a2b"),
        (.pause("dev"), "POST", "/v1/sandboxes/dev/pause"),
        (.stop("dev"), "POST", "/v1/sandboxes/dev/stop"),
        (.start("dev"), "POST", "/v1/sandboxes/dev/start"),
        (.createSnapshot("dev"), "POST", "/v1/sandboxes/dev/snapshots"),
        (.saveImage("dev"), "POST", "/v1/sandboxes/dev/image"),
        (.exec("dev"), "POST", "/v1/sandboxes/dev/exec"),
        (.execSocket("dev"), "GET", "/v1/sandboxes/dev/exec/ws"),
        (.readFile("dev"), "GET", "/v1/sandboxes/dev/files"),
        (.statFile("dev"), "HEAD", "/v1/sandboxes/dev/files"),
        (.writeFile("dev"), "PUT", "/v1/sandboxes/dev/files"),
        (.shell("dev"), "GET", "/v1/sandboxes/dev/shell"),
        (.sessions("dev"), "GET", "/v1/sandboxes/dev/sessions"),
        (.publish("dev"), "POST", "/v1/sandboxes/dev/publish"),
        (.publishRules("dev"), "GET", "/v1/sandboxes/dev/publish"),
        (.unpublish("dev", port: "8080"), "DELETE", "/v1/sandboxes/dev/publish/8080"),
        (.proxy("dev", port: "3000", method: "OPTIONS"), "OPTIONS", "/v1/sandboxes/dev/proxy/3000"),
        (.snapshots, "GET", "/v1/snapshots"),
        (.restoreSnapshot("first"), "POST", "/v1/snapshots/first/restore"),
        (.deleteSnapshot("first"), "DELETE", "/v1/snapshots/first"),
        (.images, "GET", "/v1/images"),
        (.image("node"), "GET", "/v1/images/node"),
        (.deleteImage("node"), "DELETE", "/v1/images/node"),
        (.importImage("node"), "POST", "/v1/images/node/import"),
        (.users, "GET", "/v1/users"),
        (.createUser, "POST", "/v1/users"),
        (.editUser("ann"), "PATCH", "/v1/users/ann"),
        (.deleteUser("ann"), "DELETE", "/v1/users/ann"),
        (.rotateKey("ann"), "POST", "/v1/users/ann/rotate-key"),
        (.secrets, "GET", "/v1/secrets"),
        (.setSecret, "POST", "/v1/secrets"),
        (.deleteSecret("GITHUB_TOKEN"), "DELETE", "/v1/secrets/GITHUB_TOKEN"),
        (.events, "GET", "/v1/events"),
    ]

    @Test("every route has its method and path, and its path matches back to it", arguments: routes)
    func roundTrip(route: APIRoute, method: String, path: String) {
        #expect(route.method == method)
        #expect(route.path == path)
        #expect(APIRoute.match(method: method, path: path) == .found(route))
    }

    @Test("the table holds every route once")
    func complete() {
        #expect(APIRoute.table.count == Self.routes.count + 1, "each route, and HEAD /health")
    }

    @Test(
        "parameters are percent-encoded, and the server's decoded path matches them back",
        arguments: [
            "my snap", "a?b#c", "100%", "naïve", "x+y", "s p/a c e",
        ])
    func encodedNames(name: String) throws {
        for route in [APIRoute.sandbox(name), .restoreSnapshot(name), .deleteSecret(name), .rotateKey(name), .image(name)] {
            let path = route.path
            #expect(path.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "?") && $0 != UInt8(ascii: "#") }, "\(path)")
            let decoded = try #require(path.removingPercentEncoding)
            if name.contains("/") {
                #expect(APIRoute.match(method: route.method, path: decoded) != .found(route), "a / splits the path")
            } else {
                #expect(APIRoute.match(method: route.method, path: decoded) == .found(route))
            }
        }
    }

    @Test("a query is encoded after the path")
    func query() {
        #expect(APIRoute.listSandboxes.target(query: []) == "/v1/sandboxes")
        #expect(
            APIRoute.readFile("dev").target(query: [("path", "/tmp/a b&c"), ("ls", "true")])
                == "/v1/sandboxes/dev/files?path=%2Ftmp%2Fa%20b%26c&ls=true")
        #expect(APIRoute.listSandboxes.target(query: [("label", "team=a+b")]) == "/v1/sandboxes?label=team%3Da%2Bb")
    }

    @Test(
        "a served path with another method is 405, naming the methods it has",
        arguments: [
            ("PUT", "/v1/sandboxes", ["GET", "POST"]),
            ("POST", "/v1/sandboxes/dev", ["GET", "PATCH", "DELETE"]),
            ("GET", "/v1/sandboxes/tiers/stop", ["POST"]),
            ("GET", "/v1/sandboxes/dev/exec", ["POST"]),
            ("POST", "/v1/sandboxes/dev/exec/ws", ["GET"]),
            ("DELETE", "/v1/sandboxes/dev/files", ["GET", "HEAD", "PUT"]),
            ("POST", "/v1/sandboxes/dev/shell", ["GET"]),
            ("DELETE", "/v1/sandboxes/dev/publish", ["POST", "GET"]),
            ("GET", "/v1/sandboxes/dev/publish/8080", ["DELETE"]),
            ("GET", "/v1/snapshots/first/restore", ["POST"]),
            ("GET", "/v1/snapshots/first", ["DELETE"]),
            ("DELETE", "/v1/snapshots", ["GET"]),
            ("POST", "/v1/images", ["GET"]),
            ("PUT", "/v1/images/node", ["GET", "DELETE"]),
            ("GET", "/v1/users/ann", ["PATCH", "DELETE"]),
            ("GET", "/v1/users/ann/rotate-key", ["POST"]),
            ("PUT", "/v1/secrets", ["GET", "POST"]),
            ("GET", "/v1/secrets/TOKEN", ["DELETE"]),
            ("POST", "/v1/events", ["GET"]),
        ])
    func wrongMethod(method: String, path: String, allowed: [String]) {
        #expect(APIRoute.match(method: method, path: path) == .methodNotAllowed(allowed: allowed))
    }

    @Test("the health check's wrong methods need no key either")
    func health() {
        #expect(APIRoute.match(method: "HEAD", path: "/health") == .found(.health))
        #expect(APIRoute.match(method: "POST", path: "/health") == .methodNotAllowed(allowed: ["GET", "HEAD"], needsKey: false))
        #expect(!APIRoute.match(method: "POST", path: "/health").needsKey)
        #expect(APIRoute.match(method: "GET", path: "/v1/health").needsKey)
    }

    @Test(
        "paths nothing serves are 404",
        arguments: [
            "/", "/v2/whatever", "/v1", "/v1/nope", "/v1/sandboxes/dev/nope", "/v1/sandboxes/dev/exec/nope",
            "/v1/sandboxes/dev/proxy", "/v1/sandboxes/dev/publish/8080/x", "/v1/snapshots/first/nope",
            "/v1/snapshots/first/restore/x", "/v1/users/ann/nope", "/v1/secrets/a/b", "/v1/images/a/b", "/v1/events/x", "/health/x",
            "/sandboxes",
        ])
    func unknown(path: String) {
        for method in ["GET", "POST", "DELETE"] {
            #expect(APIRoute.match(method: method, path: path) == .notFound, "\(method) \(path)")
        }
    }

    @Test("the proxy takes any method and any path below its port")
    func proxy() {
        #expect(
            APIRoute.match(method: "PATCH", path: "/v1/sandboxes/dev/proxy/8080/api/exec/ws")
                == .found(.proxy("dev", port: "8080", method: "PATCH")))
        #expect(
            APIRoute.match(method: "GET", path: "/v1/sandboxes/dev/proxy/web") == .found(.proxy("dev", port: "web", method: "GET")),
            "the handler refuses a port that is not a number")
    }

    @Test("empty segments are dropped, as the daemon always has")
    func emptySegments() {
        #expect(APIRoute.match(method: "GET", path: "//v1//sandboxes/") == .found(.listSandboxes))
        #expect(APIRoute.match(method: "POST", path: "/v1/sandboxes/dev/exec/") == .found(.exec("dev")))
    }
}
