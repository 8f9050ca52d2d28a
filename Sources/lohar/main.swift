import BhattiSystem
import CLoharInit
import Glibc
import Lohar

// lohar: PID 1 of every bhatti VM. Thin shell over the Lohar library.
_ = lohar_init_proc_mounted()  // keeps the pre-main /proc constructor linked in
let arguments = CommandLine.arguments
if arguments.dropFirst().first == "--version" {
    print("lohar \(loharVersion)")
    exit(0)
}
Signals.ignoreBrokenPipe()
if let socket = getenv("LOHAR_TEST_SOCKET").map({ String(cString: $0) }) {
    // Test mode: the same handlers on a unix socket, as the current user, outside a VM.
    let agent = Agent(configuration: .hostTest(path: String(cString: getenv("PATH"))))
    do { try agent.serve(unixSocket: socket) } catch {
        GuestBoot.log("cannot serve \(socket): \(error)")
        exit(1)
    }
}
guard getpid() == 1 else {
    GuestBoot.log("refusing to run: lohar is the guest's init (PID 1); set LOHAR_TEST_SOCKET for test mode")
    exit(2)
}
Signals.powerOffOnTerminate()
GuestBoot.mountFilesystems()
try? Machine.setHostname("bhatti")
try? Machine.interfaceUp("lo")
let agent = Agent(configuration: .guest)
guard let port = GuestBoot.openPort() else {
    GuestBoot.log("virtio-serial port \(GuestBoot.portName) not found; powering off")
    _ = Machine.powerOff()
    exit(1)
}
GuestBoot.log("ready")
agent.serve(port: port)
