/// Label rules: at most 16; keys of 1–63 characters (`a-z A-Z 0-9 . _ - /`), values of at most 256
/// (`a-z A-Z 0-9 . _ -`). The `bhatti.sh/` prefix is reserved.
public enum SandboxLabels {
    public static let maxCount = 16

    public static func validate(_ labels: [String: String]) throws(BhattiError) {
        guard labels.count <= maxCount else {
            throw BhattiError(.invalidArgument, "at most \(maxCount) labels, got \(labels.count)")
        }
        for (key, value) in labels {
            guard !key.hasPrefix("bhatti.sh/") else {
                throw BhattiError(
                    .invalidArgument, "label key \(BhattiError.quoted(key)) is reserved: the bhatti.sh/ prefix is bhatti's own")
            }
            guard (1...63).contains(key.utf8.count), key.utf8.allSatisfy({ isPlain($0) || $0 == 47 }) else {
                throw BhattiError(
                    .invalidArgument, "invalid label key \(BhattiError.quoted(key)): 1-63 letters, digits, '.', '_', '-', '/'")
            }
            guard value.utf8.count <= 256, value.utf8.allSatisfy(isPlain) else {
                throw BhattiError(
                    .invalidArgument, "invalid value for label \(BhattiError.quoted(key)): up to 256 letters, digits, '.', '_', '-'")
            }
        }
    }

    private static func isPlain(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || b == 46 || b == 95 || b == 45
    }
}
