import ArgumentParser

/// The scenarios `--scenario` can pick, in the order they run.
enum ScenarioName: String, CaseIterable, ExpressibleByArgument {
    case ceilings
    case ingest
    case latency
    case drain
    case e2e
    case wan
    case replay
    case outage
    case memory
    case tail
}
