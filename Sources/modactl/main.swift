import ModactlCommands

// `swift run modactl` and the tests' modactl: the same CLI the shipped binary runs when called by the
// name modactl (Sources/moda-agent/main.swift); the package installs no separate modactl program.
Modactl.main()
