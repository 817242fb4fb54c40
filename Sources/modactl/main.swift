import ModactlCommands

// The development build's modactl; the package installs modactl as a second name of moda-agent.
Modactl.main()
