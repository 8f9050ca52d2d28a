/// An ordered list of header fields with case-insensitive name lookup (field order is kept on the wire).
public struct HTTPHeaders: Sendable, Sequence, Equatable, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    /// One field: the name as sent and its value.
    public typealias Element = (name: String, value: String)

    private var fields: [(name: String, value: String)] = []

    /// An empty header list.
    public init() {}

    /// Headers from `(name, value)` pairs, in order.
    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { (name: $0.0, value: $0.1) }
    }

    public init(arrayLiteral elements: (String, String)...) { self.init(elements) }

    public init(dictionaryLiteral elements: (String, String)...) { self.init(elements) }

    /// The number of fields (repeated names count once each).
    public var count: Int { fields.count }

    /// Whether there are no fields.
    public var isEmpty: Bool { fields.isEmpty }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    /// The first value for `name`; setting replaces every field of that name (nil removes them).
    public subscript(name: String) -> String? {
        get { fields.first { headerNamesEqual($0.name, name) }?.value }
        set {
            if let newValue { set(name, newValue) } else { remove(name) }
        }
    }

    /// Appends a field, keeping any existing fields of the same name.
    public mutating func add(_ name: String, _ value: String) {
        fields.append((name: name, value: value))
    }

    /// Replaces every field named `name` with one field, in the position of the first.
    public mutating func set(_ name: String, _ value: String) {
        if let first = fields.firstIndex(where: { headerNamesEqual($0.name, name) }) {
            fields[first].value = value
            var index = fields.count - 1
            while index > first {
                if headerNamesEqual(fields[index].name, name) { fields.remove(at: index) }
                index -= 1
            }
        } else {
            add(name, value)
        }
    }

    /// Removes every field named `name`.
    public mutating func remove(_ name: String) {
        fields.removeAll { headerNamesEqual($0.name, name) }
    }

    /// Whether any field is named `name`.
    public func contains(_ name: String) -> Bool {
        fields.contains { headerNamesEqual($0.name, name) }
    }

    /// Every value for `name`, in order.
    /// Whether `name` appears more than once; one pass, no copies (every request asks it).
    public func repeats(_ name: String) -> Bool {
        var seen = false
        for field in fields where headerNamesEqual(field.name, name) {
            if seen { return true }
            seen = true
        }
        return false
    }

    public func values(for name: String) -> [String] {
        fields.filter { headerNamesEqual($0.name, name) }.map(\.value)
    }

    /// The comma-separated tokens of every `name` field, trimmed and lowercased (for `Connection` and the like).
    public func tokens(for name: String) -> [String] {
        values(for: name).flatMap { value in
            value.split(separator: ",").map { $0.trimmingASCIIWhitespace().lowercased() }.filter { !$0.isEmpty }
        }
    }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.count == rhs.fields.count
            && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// ASCII case-insensitive comparison; header names are tokens, so no Unicode folding is needed.
func headerNamesEqual(_ a: String, _ b: String) -> Bool {
    let x = a.utf8
    let y = b.utf8
    guard x.count == y.count else { return false }
    for (p, q) in zip(x, y) where p != q {
        guard asciiLower(p) == asciiLower(q) else { return false }
    }
    return true
}

@inline(__always) func asciiLower(_ byte: UInt8) -> UInt8 {
    byte >= 0x41 && byte <= 0x5A ? byte | 0x20 : byte
}

extension StringProtocol {
    /// The string without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingASCIIWhitespace() -> String {
        var slice = Substring(self)
        while let c = slice.first, c == " " || c == "\t" { slice.removeFirst() }
        while let c = slice.last, c == " " || c == "\t" { slice.removeLast() }
        return String(slice)
    }
}
