/// An `AsyncThrowingStream`'s iterator held in a class, so a `@Sendable` closure (the unfolding
/// closure of a derived stream) can pull from it: a WebSocket's messages, a relayed port's frames.
///
/// `@unchecked Sendable`: a derived stream has one consumer at a time and calls its unfolding closure
/// only when that consumer asks for the next element, so the iterator is never used from two tasks at
/// once.
public final class StreamCursor<Element>: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<Element, any Error>.Iterator

    public init(_ stream: AsyncThrowingStream<Element, any Error>) { iterator = stream.makeAsyncIterator() }
    public init(_ iterator: AsyncThrowingStream<Element, any Error>.Iterator) { self.iterator = iterator }

    public func next() async throws -> Element? { try await iterator.next() }
}
