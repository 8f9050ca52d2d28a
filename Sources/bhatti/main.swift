import BhattiCLI
import BhattiSystem
import Glibc

// bhatti: the daemon (`bhatti serve`) and the CLI, in one executable.
Signals.ignoreBrokenPipe()
let arguments = Array(CommandLine.arguments.dropFirst())
if arguments.contains("serve") {
    // Before any thread exists, so every thread inherits the mask and the daemon's signal thread
    // alone receives SIGTERM/SIGINT (then stops VMs cleanly).
    Signals.blockTermination()
}
exit(await BhattiCommand.main(arguments))
