import BhattiCore

/// Checks on what becomes a guest process's argv, environment and working directory.
///
/// The guest hands them to execve as C strings, which end at the first NUL: `["echo", "a\u0000b"]`
/// would run as `echo a`, another command than the one asked for. So a NUL anywhere is refused.
enum CommandInput {
    static func validate(argv: [String], env: [String: String] = [:], cwd: String? = nil) throws(BhattiError) {
        for (i, arg) in argv.enumerated() where arg.utf8.contains(0) {
            throw BhattiError(.invalidArgument, "cmd[\(i)] contains a NUL byte (\\u0000); arguments cannot hold one")
        }
        try validate(env: env)
        if let cwd, cwd.utf8.contains(0) {
            throw BhattiError(.invalidArgument, "cwd contains a NUL byte (\\u0000)")
        }
    }

    /// Environment names (`isEnvironmentName`: the same rule for exec, sessions and create) and values.
    /// Sorted only to report a mistake, so the same body always names the same variable.
    static func validate(env: [String: String]) throws(BhattiError) {
        guard env.contains(where: { !isEnvironmentName($0.key) || $0.value.utf8.contains(0) }) else { return }
        for (name, value) in env.sorted(by: { $0.key < $1.key }) {
            if name.utf8.contains(0) {
                throw BhattiError(.invalidArgument, "environment variable name \(BhattiError.quoted(name)) contains a NUL byte (\\u0000)")
            }
            if !isEnvironmentName(name) {
                throw BhattiError(
                    .invalidArgument,
                    "invalid environment variable name \(BhattiError.quoted(name)): use letters, digits and '_', not starting with a digit")
            }
            if value.utf8.contains(0) {
                throw BhattiError(
                    .invalidArgument,
                    "environment variable \(BhattiError.quoted(name)) contains a NUL byte (\\u0000); values cannot hold one")
            }
        }
    }
}
