import Testing

@testable import BhattiDaemon

/// How E2B's `get_host(port)` hosts are read by the public proxy, and the domain the daemon gives
/// the SDK to build them from.
@Suite("E2B port hosts")
struct E2BHostTests {
    static let id = "0123456789abcdef"

    @Test(
        "<port>-<id> under the zone or localhost, any port suffix, any case; anything else is not one",
        arguments: [
            ("3000-\(id).localhost:8081", nil, 3000, id),
            ("3000-\(id).localhost", "preview.example.com", 3000, id),
            ("8080-\(id).preview.example.com", "preview.example.com", 8080, id),
            ("8080-0123456789ABCDEF.Preview.Example.com:443", "preview.example.com", 8080, id),
            ("8080-\(id).preview.example.com", nil, nil, nil),  // no zone configured: not ours
            ("8080-\(id).other.example.com", "preview.example.com", nil, nil),
            ("0-\(id).localhost", nil, nil, nil),
            ("65536-\(id).localhost", nil, nil, nil),
            ("+80-\(id).localhost", nil, nil, nil),
            ("3000-0123456789abcde.localhost", nil, nil, nil),  // 15 hex
            ("3000-0123456789abcdeg.localhost", nil, nil, nil),
            ("myapp.localhost", nil, nil, nil),  // an alias
            ("a.3000-\(id).localhost", nil, nil, nil),
            ("localhost:8081", nil, nil, nil),
        ] as [(String, String?, Int?, String?)])
    func parse(_ host: String, _ zone: String?, _ port: Int?, _ id: String?) {
        let parsed = PublicProxy.e2bHost(host, zone: zone)
        #expect(parsed?.port == port && parsed?.id == id, "\(host)")
    }

    @Test(
        "the domain: the zone, else localhost, with the proxy's port unless the scheme's own; none without a proxy",
        arguments: [
            (PreviewURLs(base: "http://127.0.0.1:8081", zone: nil), "localhost:8081"),
            (PreviewURLs(base: "http://127.0.0.1:8081", zone: "preview.example.com"), "preview.example.com:8081"),
            (PreviewURLs(base: "https://preview.example.com", zone: "preview.example.com"), "preview.example.com"),
            (PreviewURLs(base: nil, zone: "preview.example.com"), "preview.example.com"),
            (PreviewURLs(base: nil, zone: nil), nil),
        ] as [(PreviewURLs, String?)])
    func domain(_ previews: PreviewURLs, _ expected: String?) {
        #expect(previews.e2bDomain == expected)
    }
}
