import Foundation
import Testing

/// Package.swift's declared dependencies must be exactly what each target imports
/// (scripts/check-deps.py), so the graph the compiler sees stays honest.
@Suite struct DependencyGraphTests {
    static let root = #filePath.replacingOccurrences(of: "/Tests/TideCoreTests/DependencyGraphTests.swift", with: "")

    static func checkDeps(_ package: String) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", root + "/scripts/check-deps.py", package]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        return (process.terminationStatus, output)
    }

    @Test func declaredDependenciesAreTheImports() throws {
        let (status, output) = try Self.checkDeps(Self.root)
        #expect(status == 0, "\(output)")
        // It did look: at least the 30-odd targets of the package.
        let checked = output.firstMatch(of: #/of (\d+) targets/#).flatMap { Int($0.1) } ?? 0
        #expect(checked > 30, "\(output)")
    }

    /// The script catches both directions on a package made to disagree.
    @Test func theCheckFindsBothKindsOfDisagreement() throws {
        let package = FileManager.default.temporaryDirectory.appendingPathComponent("tide-deps-\(UUID().uuidString)")
        let files: [String: String] = [
            "Package.swift": """
            // swift-tools-version:6.1
            import PackageDescription
            let package = Package(name: "P", targets: [
                .target(name: "A"),
                .target(name: "B", dependencies: ["A"]),  // declared, never imported
                .target(name: "C", dependencies: [.product(name: "Logging", package: "swift-log")]),
                .testTarget(name: "CTests", dependencies: ["C"]),
            ])
            """,
            "Sources/A/A.swift": "import Foundation\npublic let a = 1\n",
            "Sources/B/B.swift": "import Foundation\n",
            "Sources/C/C.swift": "import Logging\n@testable import A  // imported, undeclared\nimport struct B.Thing\n",
            "Tests/CTests/CTests.swift": "import Testing\n@testable import C\n",
        ]
        for (path, text) in files {
            let url = package.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try text.write(to: url, atomically: true, encoding: .utf8)
        }
        defer { try? FileManager.default.removeItem(at: package) }
        let (status, output) = try Self.checkDeps(package.path)
        #expect(status == 1)
        let problems = output.split(separator: "\n").filter { !$0.hasPrefix("check-deps:") }.map(String.init)
        #expect(problems == ["B: declares A, never imported", "C: imports A, undeclared", "C: imports B, undeclared"], "\(output)")
    }
}
