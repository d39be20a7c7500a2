import Foundation

/// Where the `tide` executable built beside the running tests lives, so tests can run the real
/// command (and kill it) as a user would.
public enum TideBinary {
    public static var url: URL {
        // Test bundles and executables share one products folder (.build/<triple>/debug).
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = bundle.deletingLastPathComponent()
        while folder.path != "/" {
            let candidate = folder.appendingPathComponent("tide")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            folder = folder.deletingLastPathComponent()
        }
        if let built = ProcessInfo.processInfo.environment["TIDE_BINARY"] { return URL(fileURLWithPath: built) }
        return URL(fileURLWithPath: ".build/debug/tide")
    }
}
