import BhattiWire

// Placeholder until sessions land: refuses clearly.
extension AgentSession {
    func openSession(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        context.fail(.badRequest, "sessions are not supported by this agent yet")
        return nil
    }
    func listSessions(_ frame: Frame) throws -> [UInt8] {
        throw WireErrorMessage(code: .badRequest, message: "sessions are not supported by this agent yet")
    }
    func killSession(_ frame: Frame) throws -> [UInt8] {
        throw WireErrorMessage(code: .badRequest, message: "sessions are not supported by this agent yet")
    }
}

extension SessionRegistry {
    func startInit(script: String, state: AgentState) throws {
        throw WireErrorMessage(code: .badRequest, message: "init scripts need sessions, not supported by this agent yet")
    }
}
