import BhattiWire

extension AgentSession {
    /// A forward to 127.0.0.1:`port` in the guest; the port is checked here, the connect happens on
    /// the stream's own thread.
    func openForward(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        let request: ForwardRequest
        do { request = try decodeRequest(ForwardRequest.self, frame) } catch {
            context.fail(error)
            return nil
        }
        guard (1...65535).contains(request.port) else {
            context.fail(.badRequest, "port \(request.port) is not in 1...65535")
            return nil
        }
        return ForwardStream(port: request.port, context: context)
    }
}
