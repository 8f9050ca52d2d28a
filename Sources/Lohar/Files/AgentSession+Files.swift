import BhattiWire

// Placeholder until file transfer lands: refuses clearly.
extension AgentSession {
    func openFileRead(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        context.fail(.badRequest, "file reads are not supported by this agent yet")
        return nil
    }
    func openFileWrite(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        context.fail(.badRequest, "file writes are not supported by this agent yet")
        return nil
    }
    func statFile(_ frame: Frame) throws -> [UInt8] {
        throw WireErrorMessage(code: .badRequest, message: "file stat is not supported by this agent yet")
    }
    func listFiles(_ frame: Frame) throws -> [UInt8] {
        throw WireErrorMessage(code: .badRequest, message: "file listing is not supported by this agent yet")
    }
    func openForward(_ frame: Frame, _ context: StreamContext) -> (any GuestStream)? {
        context.fail(.badRequest, "port forwarding is not supported by this agent yet")
        return nil
    }
}
