import Dispatch
import ModaAgentCore
import ModactlCommands

// One program, two names. The package installs this binary as /usr/bin/moda-agent and links
// /usr/bin/modactl to it: called by the name modactl it is the operator's CLI (ModactlCommands, the
// same library the development `modactl` product in Sources/modactl runs), under any other name the
// daemon (ModaAgentCommand). The two share nearly all their code: one static binary instead of two.
if CommandLine.arguments.first.map({ $0.split(separator: "/").last == "modactl" }) == true {
    Modactl.main()
} else {
    // First, while this is the only thread (see AllocatorTuning).
    AllocatorTuning.apply()
    // Not top-level `await`: an async main gives the main thread to dispatch_main(), which ends it with
    // pthread_exit, and that forced unwind reads the program's unwind tables at every start: 0.6 MiB of pages
    // resident for the daemon's life, for nothing. The main thread waits instead; nothing runs on the main actor.
    let finished = DispatchSemaphore(value: 0)
    Task.detached {
        await ModaAgentCommand.runAsRoot()
        finished.signal()
    }
    finished.wait()
}
