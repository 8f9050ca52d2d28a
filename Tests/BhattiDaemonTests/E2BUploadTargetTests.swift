import BhattiCore
import Testing

@testable import BhattiDaemon

/// Which parts of an envd multipart upload are files, and where each goes.
@Suite("E2B upload targets")
struct E2BUploadTargetTests {
    @Test(
        "every part with a file name, or the one part there is (?path= first); none or a nameless one alone are refused",
        arguments: [
            ([nil], "/tmp/x", .success(["0 /tmp/x"])),
            (["a.txt"], "/tmp/x", .success(["0 /tmp/x"])),
            (["a.txt"], nil, .success(["0 /workspace/a.txt"])),
            (["/etc/b", nil, "c"], nil, .success(["0 /etc/b", "2 /workspace/c"])),
            (["/etc/b", "c"], "/tmp/x", .success(["0 /etc/b", "1 /workspace/c"])),
            ([nil], nil, .failure("a part names no file: send ?path= or a filename")),
            ([nil, nil], "/tmp/x", .failure("the upload holds no file")),
            ([], "/tmp/x", .failure("the upload holds no file")),
        ] as [([String?], String?, Result<[String], Refusal>)])
    func targets(_ filenames: [String?], _ named: String?, _ expected: Result<[String], Refusal>) {
        let got: Result<[String], Refusal>
        do {
            got = .success(try E2BEnvd.uploadTargets(filenames, named: named).map { "\($0.index) \($0.path)" })
        } catch {
            got = .failure(Refusal((error as? BhattiError)?.message ?? "\(error)"))
        }
        #expect(got == expected)
    }

    struct Refusal: Error, Equatable, ExpressibleByStringLiteral {
        let message: String
        init(_ message: String) { self.message = message }
        init(stringLiteral message: String) { self.message = message }
    }
}
