import BhattiWire

extension AgentSession {
    /// A `session` stream: opens a session or attaches to one (see `SessionAttachment`).
    func openSession(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        do {
            let request = try decodeRequest(SessionRequest.self, frame)
            return SessionAttachment(request: request, context: context, agent: state)
        } catch {
            context.fail(.badRequest, "malformed session request: \(error)")
            return nil
        }
    }

    /// `sessionList`: every session the agent keeps, oldest first.
    func listSessions(_ frame: Frame) throws -> [UInt8] {
        WireJSON.encode(state.sessions.list())
    }

    /// `sessionKill`: SIGTERM to the session's process group (see `Session.terminate`); a session that
    /// already exited is dropped.
    func killSession(_ frame: Frame) throws -> [UInt8] {
        let request = try decodeRequest(SessionKillRequest.self, frame)
        guard let session = state.sessions.find(request.sessionID) else {
            throw WireErrorMessage(code: .notFound, message: "no session \(request.sessionID)")
        }
        if session.isRunning { session.terminate() } else { state.sessions.remove(session) }
        return WireJSON.encode(Empty())
    }
}
