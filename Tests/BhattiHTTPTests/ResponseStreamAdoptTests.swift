import Testing

@testable import BhattiHTTP

/// A handler that starts its producer before answering hands the task to the stream, which owns it.
@Suite("Response stream: an adopted producer") struct ResponseStreamAdoptTests {
    /// A task that ends only when cancelled; whether it was.
    private static func waitsForCancel() -> Task<Void, Never> {
        Task { while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) } }
    }

    @Test("cancelling the stream (the client went away) cancels the adopted task")
    func cancelledWithTheStream() async {
        let stream = ResponseStream()
        let task = Self.waitsForCancel()
        stream.adopt(task)
        stream.cancel()
        await task.value
        #expect(task.isCancelled)
    }

    @Test("a task adopted by a stream already cancelled is cancelled at once")
    func adoptedAfterCancel() async {
        let stream = ResponseStream()
        stream.cancel()
        let task = Self.waitsForCancel()
        stream.adopt(task)
        await task.value
        #expect(task.isCancelled)
    }
}
