import Foundation

/// The `tide` executable of this very build, so tests run the real command (and kill it) as a user
/// would, and never an older `tide` that happens to lie somewhere up the tree.
public enum TideBinary {
    public struct NotFound: Error, CustomStringConvertible {
        public var description: String
    }

    /// `TIDE_BINARY` when set, else `tide` in the products folder the test bundle was built into
    /// (`.build/<triple>/debug`); anything else is an error that says where it looked.
    public static var url: URL {
        get throws(NotFound) {
            if let given = ProcessInfo.processInfo.environment["TIDE_BINARY"], !given.isEmpty {
                guard FileManager.default.isExecutableFile(atPath: given) else {
                    throw NotFound(description: "TIDE_BINARY is \(given), which is not an executable file")
                }
                return URL(fileURLWithPath: given)
            }
            let folder = productsFolder
            let candidate = folder.appendingPathComponent("tide")
            guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
                throw NotFound(description: "no tide executable in \(folder.path), the products folder of these tests: "
                               + "build it first (`swift build --build-tests`), or set TIDE_BINARY to the binary to test")
            }
            return candidate
        }
    }

    /// Where SwiftPM put the running tests: beside the test executable on Linux, beside the
    /// `.xctest` bundle (`X.xctest/Contents/MacOS/X`) on macOS.
    static var productsFolder: URL {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var folder = executable.deletingLastPathComponent()
        var probe = folder
        while probe.path != "/" {
            if probe.pathExtension == "xctest" { return probe.deletingLastPathComponent() }
            probe = probe.deletingLastPathComponent()
        }
        if folder.path == "/" { folder = URL(fileURLWithPath: FileManager.default.currentDirectoryPath) }
        return folder
    }
}
