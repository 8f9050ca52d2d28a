/// A usage error: printed with the command's usage line, exit code 2.
public struct UsageError: Error, Equatable, Sendable {
    public let message: String
    public init(_ message: String) { self.message = message }
}

/// The options one command accepts.
public struct OptionSpec: Sendable {
    public enum Kind: Sendable { case flag, value, repeated }
    public var names: [String]
    public var kind: Kind
    /// One line for `bhatti COMMAND -h`.
    public var help: String
    public init(_ names: String..., kind: Kind, help: String = "") {
        self.names = names
        self.kind = kind
        self.help = help
    }
}

/// Parsed command-line arguments: options by canonical (first) name, positionals in order, and
/// everything after `--` untouched.
public struct ParsedArguments: Equatable, Sendable {
    public var flags: Set<String> = []
    public var values: [String: [String]] = [:]
    public var positionals: [String] = []
    public var rest: [String]?

    public func has(_ name: String) -> Bool { flags.contains(name) }
    public func value(_ name: String) -> String? { values[name]?.last }
    public func all(_ name: String) -> [String] { values[name] ?? [] }

    /// An integer option, with a usage error naming the option when it is not one.
    public func int(_ name: String) throws(UsageError) -> Int? {
        guard let raw = value(name) else { return nil }
        guard let n = Int(raw) else { throw UsageError("\(name) expects a whole number, got \"\(raw)\"") }
        return n
    }

    /// `K=V` pairs from a repeated option.
    public func pairs(_ name: String) throws(UsageError) -> [String: String] {
        var out: [String: String] = [:]
        for item in all(name) {
            guard let eq = item.firstIndex(of: "="), eq != item.startIndex else {
                throw UsageError("\(name) expects KEY=VALUE, got \"\(item)\"")
            }
            out[String(item[..<eq])] = String(item[item.index(after: eq)...])
        }
        return out
    }
}

/// Parses `args` against `specs`. `--name value`, `--name=value`, `-n value`; a lone `--` ends options.
/// With `restAfter: n`, the word after the first `n` positionals also ends options: it and everything
/// after it go to `rest` untouched, as `docker exec SB CMD ARGS…` passes `ARGS` to `CMD`.
public func parseArguments(_ args: [String], specs: [OptionSpec], restAfter: Int? = nil) throws(UsageError) -> ParsedArguments {
    var lookup: [String: OptionSpec] = [:]
    for spec in specs { for n in spec.names { lookup[n] = spec } }
    var parsed = ParsedArguments()
    var i = 0
    while i < args.count {
        let arg = args[i]
        i += 1
        if arg == "--" {
            parsed.rest = Array(args[i...])
            break
        }
        guard arg.hasPrefix("-"), arg.count > 1 else {
            if let restAfter, parsed.positionals.count == restAfter {
                parsed.rest = Array(args[(i - 1)...])
                break
            }
            parsed.positionals.append(arg)
            continue
        }
        var name = arg
        var inline: String?
        if arg.hasPrefix("--"), let eq = arg.firstIndex(of: "=") {
            name = String(arg[..<eq])
            inline = String(arg[arg.index(after: eq)...])
        }
        guard let spec = lookup[name] else { throw UsageError("unknown option \(name)") }
        let canonical = spec.names[0]
        switch spec.kind {
        case .flag:
            if inline != nil { throw UsageError("\(name) takes no value") }
            parsed.flags.insert(canonical)
        case .value, .repeated:
            let value: String
            if let inline {
                value = inline
            } else {
                guard i < args.count else { throw UsageError("\(name) needs a value") }
                value = args[i]
                i += 1
            }
            if spec.kind == .value { parsed.values[canonical] = [value] } else { parsed.values[canonical, default: []].append(value) }
        }
    }
    return parsed
}
