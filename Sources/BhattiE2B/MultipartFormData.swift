/// `multipart/form-data` (RFC 7578), as envd's `POST /files` takes uploads: each part's field name,
/// file name and bytes. The whole body is in memory (the daemon's body limit bounds it).
public struct MultipartPart: Equatable, Sendable {
    public var name: String
    public var filename: String?
    public var data: [UInt8]

    public init(name: String, filename: String?, data: [UInt8]) {
        self.name = name
        self.filename = filename
        self.data = data
    }
}

public enum MultipartError: Error, Equatable, CustomStringConvertible {
    case noBoundary
    case malformed(String)

    public var description: String {
        switch self {
        case .noBoundary: "multipart/form-data needs a boundary parameter"
        case .malformed(let why): "malformed multipart body: \(why)"
        }
    }
}

public enum MultipartFormData {
    /// The boundary of a `multipart/form-data` content type, unquoted; nil for any other type.
    public static func boundary(of contentType: String?) -> String? {
        guard let contentType else { return nil }
        let parts = contentType.split(separator: ";").map { trimmed($0) }
        guard parts.first?.lowercased() == "multipart/form-data" else { return nil }
        for parameter in parts.dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = pair[1]
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value.isEmpty || value.utf8.count > 70 ? nil : value
        }
        return nil
    }

    public static func parse(_ body: [UInt8], boundary: String) throws(MultipartError) -> [MultipartPart] {
        let delimiter = Array(("--" + boundary).utf8)
        guard var position = find(delimiter, in: body, from: 0) else { throw .malformed("no opening boundary") }
        var parts: [MultipartPart] = []
        while true {
            position += delimiter.count
            if body[position...].starts(with: Array("--".utf8)) { return parts }
            guard body[position...].starts(with: Array("\r\n".utf8)) else { throw .malformed("a boundary line does not end in CRLF") }
            position += 2
            guard let headerEnd = find(Array("\r\n\r\n".utf8), in: body, from: position) else {
                throw .malformed("a part's headers do not end")
            }
            let headers = String(decoding: body[position..<headerEnd], as: UTF8.self)
            let dataStart = headerEnd + 4
            guard let next = find(Array("\r\n".utf8) + delimiter, in: body, from: dataStart) else {
                throw .malformed("a part does not end with the boundary")
            }
            let (name, filename) = try disposition(headers)
            parts.append(MultipartPart(name: name, filename: filename, data: Array(body[dataStart..<next])))
            position = next + 2
        }
    }

    /// The `name` and `filename` of a part's `Content-Disposition: form-data` header.
    static func disposition(_ headers: String) throws(MultipartError) -> (String, String?) {
        for line in headers.split(separator: "\r\n") {
            let pair = line.split(separator: ":", maxSplits: 1)
            guard pair.count == 2, trimmed(pair[0]).lowercased() == "content-disposition" else { continue }
            var name: String?
            var filename: String?
            for parameter in pair[1].split(separator: ";").dropFirst() {
                let kv = parameter.split(separator: "=", maxSplits: 1).map { trimmed($0) }
                guard kv.count == 2 else { continue }
                var value = kv[1]
                if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
                switch kv[0].lowercased() {
                case "name": name = value
                case "filename": filename = value
                default: break
                }
            }
            guard let name else { throw .malformed("a part's Content-Disposition has no name") }
            return (name, filename)
        }
        throw .malformed("a part has no Content-Disposition")
    }

    static func find(_ needle: [UInt8], in haystack: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count, start <= haystack.count - needle.count else { return nil }
        let first = needle[0]
        var i = start
        while i <= haystack.count - needle.count {
            if haystack[i] == first, haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }

    static func trimmed(_ text: some StringProtocol) -> String {
        String(text.drop { $0 == " " || $0 == "\t" }.reversed().drop { $0 == " " || $0 == "\t" }.reversed())
    }
}
