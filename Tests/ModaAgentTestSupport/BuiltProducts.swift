import Foundation

/// Where `swift build` put the executables: beside the test bundle that is running now.
public enum BuiltProducts {
    public static var directory: String {
        let executable =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        var folder = URL(fileURLWithPath: executable).deletingLastPathComponent()
        // Inside `X.xctest/` on some layouts: step out of the bundle.
        while folder.pathExtension == "xctest" || folder.lastPathComponent == "Contents"
            || folder.lastPathComponent == "MacOS"
        {
            folder.deleteLastPathComponent()
        }
        return folder.path
    }

    public static var agent: String { "\(directory)/moda-agent" }
    public static var modactl: String { "\(directory)/modactl" }
}
