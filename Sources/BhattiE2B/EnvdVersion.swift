/// The envd version the control plane reports in `envdVersion`.
///
/// The SDK does not talk to envd to learn it: it takes this string from the create/connect answer
/// and gates features on it (e2b/envd/versions.py, sandbox_sync/*):
/// - < 0.1.0: `Sandbox.create` kills the sandbox and raises "update the template";
/// - 0.1.4: `watch_dir(recursive=True)`; 0.1.5: `get_metrics()` (0.2.4 adds disk metrics);
/// - 0.3.0: `commands.run(stdin=False)` may be asked for (below it stdin is always open);
/// - 0.4.0: no user given means envd's default user; below it the SDK sends
///   `Authorization: Basic base64("user:")` on every call;
/// - 0.5.2: `commands.close_stdin()`;
/// - 0.5.7: `files.write` of streams (and gzip) uploads as `application/octet-stream`; small
///   str/bytes writes stay multipart/form-data either way;
/// - 0.6.2: file metadata (`X-Metadata-*` upload headers, `EntryInfo.metadata`);
/// - 0.6.3: `watch_dir(include_entry=True)`; 0.6.4: `watch_dir(allow_network_mounts=True)`.
///
/// 0.5.7 claims the features of the core process and filesystem RPCs (stdin control, default user,
/// close_stdin, octet-stream upload) and none of the xattr metadata or watch extras, which the SDK
/// then refuses client-side with a clear message instead of failing against us. The real envd is
/// at 0.6.13 (packages/envd/pkg/version.go).
public enum EnvdVersion {
    public static let reported = "0.5.7"
}
