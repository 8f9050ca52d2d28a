import BhattiSystem
import Testing

/// An image's `User` resolved as container runtimes do, as a table over one passwd and group file.
@Suite("UserSpec")
struct UserSpecTests {
    static let passwd = """
        root:x:0:0:root:/root:/bin/bash
        # a comment line
        daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
        app:x:1500:1600::/home/app:/bin/sh
        nohome:x:1700:1700:::/bin/sh
        short:x:9
        """
    static let group = """
        root:x:0:
        staff:x:50:app
        app:x:1600:
        """

    @Test(
        "names and numbers, with and without a group",
        arguments: [
            ("root", UserSpec(uid: 0, gid: 0, name: "root", home: "/root")),
            ("app", UserSpec(uid: 1500, gid: 1600, name: "app", home: "/home/app")),
            ("1500", UserSpec(uid: 1500, gid: 1600, name: "app", home: "/home/app")),
            ("app:staff", UserSpec(uid: 1500, gid: 50, name: "app", home: "/home/app")),
            ("app:77", UserSpec(uid: 1500, gid: 77, name: "app", home: "/home/app")),
            ("4242", UserSpec(uid: 4242, gid: 0, name: nil, home: "/")),
            ("4242:staff", UserSpec(uid: 4242, gid: 50, name: nil, home: "/")),
            ("nohome", UserSpec(uid: 1700, gid: 1700, name: "nohome", home: "/")),
        ])
    func resolves(spec: String, expected: UserSpec) throws {
        #expect(try UserSpec.resolve(spec, passwd: Self.passwd, group: Self.group) == expected)
    }

    @Test(
        "an unknown name, an empty part, an id out of range, or a short row is refused, saying which",
        arguments: [
            ("", UserSpec.Failure.empty),
            (":staff", .empty),
            ("app:", .empty),
            ("nobody", .unknownUser("nobody")),
            ("short", .unknownUser("short")),
            ("# a comment line", .unknownUser("# a comment line")),
            ("app:wheel", .unknownGroup("wheel")),
            ("99999999999", .outOfRange("99999999999")),
            ("app:99999999999", .outOfRange("99999999999")),
        ])
    func refuses(spec: String, failure: UserSpec.Failure) {
        #expect(throws: failure) { try UserSpec.resolve(spec, passwd: Self.passwd, group: Self.group) }
    }
}
