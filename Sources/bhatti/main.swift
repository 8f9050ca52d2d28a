import BhattiCLI
import BhattiSystem
import Glibc

// bhatti: the daemon (`bhatti serve`) and the CLI, in one executable.
Signals.ignoreBrokenPipe()
let arguments = Array(CommandLine.arguments.dropFirst())
exit(await BhattiCommand.main(arguments))
