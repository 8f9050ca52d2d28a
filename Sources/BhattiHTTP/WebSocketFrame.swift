/// One whole WebSocket message as the application sees it (fragments already joined).
public enum WebSocketMessage: Sendable, Equatable {
    /// A text message (valid UTF-8, checked on arrival).
    case text(String)
    /// A binary message.
    case binary([UInt8])
}

/// The status code and reason of a close frame.
public struct WebSocketClose: Sendable, Equatable, CustomStringConvertible {
    /// The close status code (RFC 6455 §7.4).
    public var code: UInt16
    /// The reason text (at most 123 bytes of UTF-8 on the wire).
    public var reason: String

    /// A close status from its parts.
    public init(code: UInt16, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// Whether the code says the connection ended as intended (1000 normal, 1001 going away).
    public var isNormal: Bool { code == WebSocketCloseCode.normal || code == WebSocketCloseCode.goingAway }

    public var description: String { reason.isEmpty ? "\(code)" : "\(code) \(reason)" }
}

/// The close status codes this library sends (RFC 6455 §7.4.1).
public enum WebSocketCloseCode {
    /// 1000: the purpose of the connection was fulfilled.
    public static let normal: UInt16 = 1000
    /// 1001: the endpoint is going away (server shutdown, consumer stopped listening).
    public static let goingAway: UInt16 = 1001
    /// 1002: the peer broke the protocol.
    public static let protocolError: UInt16 = 1002
    /// 1005: no status code was present (never sent, only reported).
    public static let noStatus: UInt16 = 1005
    /// 1007: a text message or reason was not UTF-8.
    public static let invalidData: UInt16 = 1007
    /// 1009: a message was larger than the limit.
    public static let messageTooBig: UInt16 = 1009
    /// 1011: an unexpected condition (here also: the keepalive ping went unanswered).
    public static let internalError: UInt16 = 1011

    /// Whether a close frame may carry `code` (1004–1006 and 1015 are reserved, 1016–2999 unassigned).
    static func isSendable(_ code: UInt16) -> Bool {
        switch code {
        case 1000...1003, 1007...1014, 3000...4999: true
        default: false
        }
    }
}

/// A frame's opcode (RFC 6455 §5.2).
enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames (close, ping, pong) are at most 125 bytes, never fragmented, and may arrive
    /// between the fragments of a message.
    var isControl: Bool { rawValue & 0x8 != 0 }
}

/// The largest payload of a control frame.
let maxControlPayload = 125

/// Serializes one frame: header, optional masking key, payload (masked when a key is given).
/// Clients mask every frame with a fresh key; servers never mask.
func encodeFrame(opcode: WebSocketOpcode, payload: [UInt8], fin: Bool = true, maskKey: [UInt8]? = nil) -> [UInt8] {
    var frame: [UInt8] = []
    frame.reserveCapacity(payload.count + 14)
    frame.append((fin ? 0x80 : 0) | opcode.rawValue)
    let maskBit: UInt8 = maskKey == nil ? 0 : 0x80
    let length = payload.count
    if length < 126 {
        frame.append(maskBit | UInt8(length))
    } else if length <= 0xFFFF {
        frame.append(maskBit | 126)
        frame += [UInt8(length >> 8), UInt8(length & 0xFF)]
    } else {
        frame.append(maskBit | 127)
        for shift in stride(from: 56, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: UInt64(length) >> UInt64(shift))) }
    }
    guard let maskKey else { return frame + payload }
    frame += maskKey
    let start = frame.count
    frame += payload
    applyMask(&frame, from: start, key: maskKey)
    return frame
}

/// XORs `bytes[from...]` with the 4-byte `key` (masking and unmasking are the same operation), eight
/// bytes at a time: a byte loop costs milliseconds per MiB in debug builds.
func applyMask(_ bytes: inout [UInt8], from start: Int = 0, key: [UInt8]) {
    precondition(key.count == 4, "a masking key is 4 bytes")
    let key32 = key.withUnsafeBytes { $0.loadUnaligned(as: UInt32.self) }
    let key64 = UInt64(key32) | UInt64(key32) << 32
    bytes.withUnsafeMutableBytes { raw in
        var index = start
        let end = raw.count
        // Whole words starting at `start` keep byte i paired with key[(i - start) % 4].
        while index + 8 <= end {
            let word = raw.loadUnaligned(fromByteOffset: index, as: UInt64.self) ^ key64
            raw.storeBytes(of: word, toByteOffset: index, as: UInt64.self)
            index += 8
        }
        while index < end {
            raw[index] ^= key[(index - start) & 3]
            index += 1
        }
    }
}

/// A fresh masking key from the system's cryptographic generator (RFC 6455 §5.3: unpredictable keys
/// stop a page's script from steering the bytes that reach a proxy).
func randomMaskKey() -> [UInt8] {
    var generator = SystemRandomNumberGenerator()
    let value = generator.next() as UInt32
    return [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
}

/// The payload of a close frame: the code big-endian, then the reason cut to fit 125 bytes at a
/// character boundary. Codes a peer must reject are sent as 1000.
func closePayload(code: UInt16, reason: String) -> [UInt8] {
    let code = WebSocketCloseCode.isSendable(code) ? code : WebSocketCloseCode.normal
    var payload: [UInt8] = [UInt8(code >> 8), UInt8(code & 0xFF)]
    var budget = maxControlPayload - 2
    for scalar in reason.unicodeScalars {
        let encoded = Array(String(scalar).utf8)
        guard encoded.count <= budget else { break }
        payload += encoded
        budget -= encoded.count
    }
    return payload
}

/// Reads a received close payload: nil for an empty one (no status), the code and reason otherwise.
func parseClosePayload(_ payload: [UInt8]) throws(WebSocketError) -> WebSocketClose? {
    if payload.isEmpty { return nil }
    guard payload.count >= 2 else { throw .protocolViolation("close frame with a one-byte payload") }
    let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
    guard WebSocketCloseCode.isSendable(code) else { throw .protocolViolation("invalid close code \(code)") }
    guard let reason = String(validating: payload[2...], as: UTF8.self) else { throw .invalidUTF8 }
    return WebSocketClose(code: code, reason: reason)
}
