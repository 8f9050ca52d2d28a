import Testing

@testable import BhattiAge

/// Files and keys cross between this implementation and the reference `age` CLI.
@Suite struct InteropTests {
    static let sizes = [0, 1, 64 * 1024, 64 * 1024 + 1, 200 * 1024]

    @Test(arguments: sizes)
    func cliDecryptsOurFileWithOurKeyFile(size: Int) throws {
        try AgeCLI.withScratch { cli in
            let identity = try AgeIdentity.generate()
            let plaintext = randomBytes(size)
            try cli.write("key.txt", Array(identity.fileContents.utf8))
            try cli.write("file.age", try Age.encrypt(plaintext, to: [identity.recipient]))
            // To stdout: age does not create -o for an empty plaintext.
            #expect(try cli.run("age", ["-d", "-i", cli.path("key.txt"), cli.path("file.age")]) == plaintext)
        }
    }

    @Test func cliDecryptsOurMultiRecipientFile() throws {
        try AgeCLI.withScratch { cli in
            let identities = try (0..<2).map { _ in try AgeIdentity.generate() }
            let plaintext = randomBytes(70_000)
            try cli.write("file.age", try Age.encrypt(plaintext, to: identities.map(\.recipient)))
            for (index, identity) in identities.enumerated() {
                try cli.write("key\(index)", Array((identity.encoded + "\n").utf8))
                #expect(try cli.run("age", ["-d", "-i", cli.path("key\(index)"), cli.path("file.age")]) == plaintext)
            }
        }
    }

    @Test(arguments: sizes)
    func weDecryptCLIFileWithKeygenKey(size: Int) throws {
        try AgeCLI.withScratch { cli in
            try cli.run("age-keygen", ["-o", cli.path("key.txt")])
            let identity = try AgeIdentity(parsing: String(decoding: try cli.read("key.txt"), as: UTF8.self))
            let publicKey = try cli.run("age-keygen", ["-y", cli.path("key.txt")])
            #expect(String(decoding: publicKey, as: UTF8.self) == identity.recipient.encoded + "\n")

            let plaintext = randomBytes(size)
            try cli.write("plain", plaintext)
            try cli.run("age", ["-r", identity.recipient.encoded, "-o", cli.path("file.age"), cli.path("plain")])
            #expect(try Age.decrypt(try cli.read("file.age"), with: [identity]) == plaintext)
        }
    }

    @Test func cliEncryptsToOurRecipients() throws {
        try AgeCLI.withScratch { cli in
            let ours = try AgeIdentity.generate()
            let other = try AgeIdentity.generate()
            let plaintext = randomBytes(130_000)
            try cli.write("plain", plaintext)
            try cli.run(
                "age",
                [
                    "-r", other.recipient.encoded, "-r", ours.recipient.encoded,
                    "-o", cli.path("file.age"), cli.path("plain"),
                ])
            let file = try cli.read("file.age")
            #expect(try Age.decrypt(file, with: [ours]) == plaintext)
            #expect(throws: AgeError.noIdentityMatched) { try Age.decrypt(file, with: [try AgeIdentity.generate()]) }
        }
    }

    @Test func cliRefusesOurTamperedFile() throws {
        try AgeCLI.withScratch { cli in
            let identity = try AgeIdentity.generate()
            var file = try Age.encrypt(randomBytes(100), to: [identity.recipient])
            file[file.count - 1] ^= 1
            try cli.write("key.txt", Array(identity.fileContents.utf8))
            try cli.write("file.age", file)
            let error = #expect(throws: AgeCLI.Failure.self) {
                try cli.run("age", ["-d", "-i", cli.path("key.txt"), cli.path("file.age")])
            }
            #expect(error?.description.contains("failed to decrypt and authenticate payload chunk") == true)
        }
    }
}
