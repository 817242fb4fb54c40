/// `moda-agent --check-config`: the effective config on stdout, faults on stderr, exit 0 or 78.
public enum ConfigCheck {
    public static func run(path: String, environment: [String: String]) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: path)
            let key = try APIKeyResolver.resolve(config: config, environment: environment)
            let network = try UpstreamNetwork.load(config: config, configPath: path, environment: environment)
            print(config.effectiveJSON())
            StandardError.line("moda-agent: \(path) is valid; API key from \(key.source.rawValue)")
            StandardError.line("moda-agent: \(network.summary(config: config))")
            return ExitStatus.success
        } catch {
            StandardError.line("moda-agent: \(error)")
            return ExitStatus.configuration
        }
    }
}
