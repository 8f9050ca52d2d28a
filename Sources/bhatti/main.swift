import BhattiCLI
import BhattiHost
import BhattiSystem
import Glibc

// bhatti: the CLI, and the daemon and image builder it runs on this host (`serve`, `image`) handed
// in from BhattiHost, in one executable.
Signals.ignoreBrokenPipe()
let arguments = Array(CommandLine.arguments.dropFirst())
exit(await BhattiCommand.main(arguments, local: HostRuns.all))
