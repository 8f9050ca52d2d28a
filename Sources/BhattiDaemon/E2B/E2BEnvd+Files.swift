import BhattiCore
import BhattiE2B
import BhattiEngine
import BhattiHTTP
import BhattiStore
import Foundation
import Synchronization

extension E2BEnvd {
    /// envd's plain HTTP `/files`: `GET ?path=` streams the file; `POST` writes a multipart upload
    /// (a part per file, the part's file name its path unless `?path=` names the one file) or an
    /// `application/octet-stream` body to `?path=`. Relative paths start in /workspace.
    ///
    /// The body streams (`Daemon` opens the route, up to `FileHandlers.maxUpload`): an octet-stream
    /// body with a Content-Length goes straight to the guest; multipart parts and chunked bodies,
    /// whose sizes the guest needs first, are spooled to the host disk (`UploadSpool`) and written
    /// once the whole body has arrived and parsed, so a malformed one writes nothing.
    func files(_ request: HTTPRequest, _ record: SandboxRecord) async throws -> HTTPResponse {
        let ref = SandboxRef(record.id.rawValue, owner: record.userID ?? "")
        let named = request.queryValue("path").map(Self.absolute)
        if request.method == "GET" {
            guard let path = named else { throw BhattiError(.invalidArgument, "path is required") }
            return try await FileHandlers.read(request, path: path, id: ref, service: service)
        }
        if request.headers["Content-Encoding"].map({ $0 != "identity" }) == true {
            throw BhattiError(.invalidArgument, "compressed uploads are not supported by bhatti's envd")
        }
        let body = UploadBody(request)
        let written: [String]
        if let boundary = MultipartFormData.boundary(of: request.headers["Content-Type"]) {
            written = try await multipart(body, boundary: boundary, named: named, ref)
        } else {
            guard let path = named else { throw BhattiError(.invalidArgument, "path is required") }
            written = [try await octetStream(body, to: path, ref)]
        }
        let entries = written.map { ["name": ($0 as NSString).lastPathComponent, "type": "file", "path": $0] }
        return HTTPResponse.json(status: 200, bytes: Array(try JSONEncoder().encode(entries)))
    }

    /// The body as one file at `path`: straight through when its size is known, else by the spool.
    private func octetStream(_ body: UploadBody, to path: String, _ ref: SandboxRef) async throws -> String {
        if let size = body.length {
            _ = try await service.withGuest(ref) { try await $0.writeFile(path: path, mode: "0644", size: size, from: body.next) }
            return path
        }
        let file = try spool.file()
        defer { file.remove() }
        while let chunk = try await body.next() { try await file.append(chunk) }
        try await write(file, 0..<file.count, to: path, ref)
        return path
    }

    /// Each file part spooled as it arrives, then written to the guest in order; the paths written.
    private func multipart(_ body: UploadBody, boundary: String, named: String?, _ ref: SandboxRef) async throws -> [String] {
        let file = try spool.file()
        defer { file.remove() }
        var splitter = MultipartSplitter(boundary: boundary)
        // Where each part's data starts in the spool; it ends where the next starts, or at the end.
        var starts: [(filename: String?, offset: Int)] = []
        do {
            while let chunk = try await body.next() {
                // One write per chunk of the body, however many parts' bytes it holds.
                var bytes: [UInt8] = []
                for event in try splitter.feed(chunk) {
                    switch event {
                    case .part(_, let filename): starts.append((filename, file.count + bytes.count))
                    case .data(let data): bytes += data
                    }
                }
                if !bytes.isEmpty { try await file.append(bytes) }
            }
            try splitter.finish()
        } catch let error as MultipartError {
            throw BhattiError(.invalidArgument, "\(error)")
        }
        let parts = starts.indices.map { i in
            (filename: starts[i].filename, range: starts[i].offset..<(i + 1 < starts.count ? starts[i + 1].offset : file.count))
        }
        var written: [String] = []
        for (index, path) in try Self.uploadTargets(parts.map(\.filename), named: named) {
            try await write(file, parts[index].range, to: path, ref)
            written.append(path)
        }
        return written
    }

    private func write(_ file: SpoolFile, _ range: Range<Int>, to path: String, _ ref: SandboxRef) async throws {
        let next = file.reader(range)
        _ = try await service.withGuest(ref) { try await $0.writeFile(path: path, mode: "0644", size: range.count, from: next) }
    }

    /// Which parts are files, and where each goes: every part with a file name (its path), or the
    /// one part there is (`?path=`, else its file name). Parts without a file name beside others
    /// are form fields, skipped.
    static func uploadTargets(_ filenames: [String?], named: String?) throws -> [(index: Int, path: String)] {
        var targets: [(index: Int, path: String)] = []
        for (index, filename) in filenames.enumerated() where filename != nil || filenames.count == 1 {
            guard let path = filenames.count == 1 ? (named ?? filename.map(absolute)) : filename.map(absolute) else {
                throw BhattiError(.invalidArgument, "a part names no file: send ?path= or a filename")
            }
            targets.append((index, path))
        }
        guard !targets.isEmpty else { throw BhattiError(.invalidArgument, "the upload holds no file") }
        return targets
    }
}

/// A request's body in pieces: the stream's on a streamed route, else the buffered bytes at once
/// (an empty body does not stream).
private struct UploadBody: Sendable {
    /// Nil for a chunked body, whose size is known only at its end.
    let length: Int?
    let next: @Sendable () async throws -> [UInt8]?

    init(_ request: HTTPRequest) {
        if let stream = request.bodyStream {
            length = stream.length
            next = { try await stream.next() }
        } else {
            let rest = Mutex<[UInt8]?>(request.body)
            length = request.body.count
            next = {
                rest.withLock { rest in
                    defer { rest = nil }
                    return rest
                }
            }
        }
    }
}
