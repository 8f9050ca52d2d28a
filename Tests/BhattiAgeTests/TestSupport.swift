import Foundation

@testable import BhattiAge

/// Random bytes, so chunk reordering or duplication would show up in the plaintext too.
func randomBytes(_ count: Int) -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
}

func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0..<($0 + 2)], as: UTF8.self), radix: 16)! }
}

/// Builds a file with a caller-chosen header text (ending in "---") and file key,
/// so tests can exercise header shapes `Age.encrypt` never writes.
func assembleFile(header: String, fileKey: [UInt8], plaintext: [UInt8]) throws -> [UInt8] {
    var file = Array(header.utf8)
    let mac = try Header.mac(fileKey: fileKey, over: file)
    file += Array(" \(Base64.encode(mac))\n".utf8)
    file += try Payload.encrypt(plaintext, fileKey: fileKey)
    return file
}

/// The header text (up to "---") of an X25519 stanza for `recipient` wrapping `fileKey`.
func x25519StanzaText(fileKey: [UInt8], to recipient: AgeRecipient) throws -> String {
    let stanza = try X25519Stanza.wrap(fileKey: fileKey, to: recipient)
    let encoded = Header.encodeWithoutMAC([stanza])
    // Drop the version line and the trailing "---".
    let text = String(decoding: encoded, as: UTF8.self)
    return String(text.dropFirst(Header.versionLine.count + 1).dropLast(3))
}

func replacing(_ file: [UInt8], range: Range<Int>, with bytes: [UInt8]) -> [UInt8] {
    var copy = file
    copy.replaceSubrange(range, with: bytes)
    return copy
}
