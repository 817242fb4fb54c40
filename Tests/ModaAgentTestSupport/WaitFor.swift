import Foundation

/// Polls `condition` until it holds or `timeout` passes: for conditions in another process (a
/// file appearing, a daemon answering) that offer nothing to wait on.
public func waitFor(
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(20),
    _ condition: () throws -> Bool
) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return try condition()
}

/// `waitFor` for conditions that must await (running `modactl`, say).
public func waitForAsync(
    timeout: Duration = .seconds(10),
    every interval: Duration = .milliseconds(50),
    _ condition: () async -> Bool
) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: interval)
    }
    return await condition()
}
