import Foundation
import TideCore
import TideIntegration
import TideMapping
import TideReplay
import TideYAML

/// `tide lint`: every finding about integrations that can be known without the network, each
/// with its file, line and column, sorted. Nothing stops at the first finding.
public enum Linter {
    /// A path that cannot be linted (missing, or not something Tide reads): a usage error, which
    /// the command reports with exit status 2.
    public struct PathError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// Lints each PATH: an integration directory, a file (`integration.yml`, a port-app-config),
    /// or `DIR/...` for every integration below DIR. Paths are all checked before any linting.
    public static func lint(paths: [String]) throws(PathError) -> [Diagnostic] {
        var targets: [Target] = []
        for path in paths {
            for target in try resolve(path) where !targets.contains(target) { targets.append(target) }
        }
        var diagnostics: [Diagnostic] = []
        for target in targets {
            switch target {
            case .integration(let directory):
                diagnostics += lint(directory: directory) + lintTests(directory: directory)
            case .integrationFile(let directory, let file):
                diagnostics += lint(directory: directory).filter { $0.location?.file == file }
            case .mapping(let directory, let file):
                diagnostics += lint(directory: directory, mapping: file).filter { $0.location?.file == file }
            case .loneMapping(let file):
                diagnostics += lintLoneMapping(file)
            }
        }
        return Array(Set(diagnostics)).sorted()
    }

    /// Lints one integration directory: integration.yml, its port-app-config (or `mapping` when
    /// given, as `tide run --mapping` uses it) and blueprints.json. What `tide run` checks before
    /// it starts: any `.error` means the run must not start.
    public static func lint(directory: String, mapping: String? = nil) -> [Diagnostic] {
        lint(Integration.read(directory: directory, mapping: mapping))
    }

    /// Lints what the loader read: its own diagnostics (spec, YAML, Ocean quirks, blueprints.json
    /// and the cross-checks between files), then the linter's rules on the loaded model.
    public static func lint(_ load: IntegrationLoad) -> [Diagnostic] {
        var diagnostics = load.diagnostics
        if let integration = load.integration, let source = SourceText(file: load.integrationFile) {
            var linter = IntegrationLinter(source: source, integration: integration)
            linter.run()
            diagnostics += linter.diagnostics
        }
        if let config = load.mapping, let file = load.mappingFile, let source = SourceText(file: file) {
            var linter = MappingLinter(source: source, config: config, blueprints: load.blueprints)
            linter.run()
            diagnostics += linter.diagnostics
        }
        return Array(Set(diagnostics)).sorted()
    }

    /// An integration's `tests/*.yml` cases and `fixtures/fixtures.yml`, read by the readers
    /// `tide test` and `tide run --replay` use, so their findings are theirs. Not part of what
    /// `tide run` checks (a run reads neither, except fixtures.yml under `--replay`, which reports
    /// its own).
    public static func lintTests(directory: String) -> [Diagnostic] {
        var diagnostics: [Diagnostic] = []
        // Cases that name the integration's fixtures.yml share its one reading (and its findings).
        let fixtureFiles = FixtureFileCache()
        let fixtures = join(directory, "fixtures/fixtures.yml")
        if FileManager.default.fileExists(atPath: fixtures) {
            do { _ = try FixtureFile.load(contentsOf: fixtures, cache: fixtureFiles) } catch { diagnostics += error.items }
        }
        for file in TestCase.files(in: directory) {
            let path = join(directory, "tests/" + (file as NSString).lastPathComponent)
            do { _ = try TestCase.load(contentsOf: path, fixtureFiles: fixtureFiles) } catch {
                diagnostics += error.items
            }
        }
        return diagnostics
    }

    /// A port-app-config outside any integration: its spec, Ocean quirks and jq only.
    static func lintLoneMapping(_ file: String) -> [Diagnostic] {
        let (config, diagnostics) = PortAppConfig.read(contentsOf: file)
        guard let config, let source = SourceText(file: file) else { return diagnostics }
        var linter = MappingLinter(source: source, config: config, blueprints: nil)
        linter.run()
        return diagnostics + linter.diagnostics
    }

    // MARK: - Paths

    enum Target: Hashable {
        case integration(String)
        case integrationFile(directory: String, file: String)
        case mapping(directory: String, file: String)
        case loneMapping(String)
    }

    static func resolve(_ path: String) throws(PathError) -> [Target] {
        if path == "..." || path.hasSuffix("/...") {
            let base = path == "..." ? "." : String(path.dropLast(4))
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: base.isEmpty ? "/" : base, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw PathError(message: "\(path): no such directory")
            }
            let found = integrations(below: base.isEmpty ? "/" : base)
            guard !found.isEmpty else { throw PathError(message: "\(path): no integration.yml below \(base)") }
            return found.map(Target.integration)
        }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw PathError(message: "\(path): no such file or directory")
        }
        if isDirectory.boolValue {
            guard isIntegration(path) else {
                throw PathError(message: "\(path) has no integration.yml; to lint every integration below it, write \(join(path, "..."))")
            }
            return [.integration(path)]
        }
        let name = (path as NSString).lastPathComponent
        let directory = (path as NSString).deletingLastPathComponent
        if name == "integration.yml" || name == "integration.yaml" {
            return [.integrationFile(directory: directory.isEmpty ? "." : directory, file: path)]
        }
        // A port-app-config in an integration's .port/resources is checked against that integration.
        let owner = ((directory as NSString).deletingLastPathComponent as NSString).deletingLastPathComponent
        if (directory as NSString).lastPathComponent == "resources",
           ((directory as NSString).deletingLastPathComponent as NSString).lastPathComponent == ".port",
           isIntegration(owner.isEmpty ? "." : owner) {
            return [.mapping(directory: owner.isEmpty ? "." : owner, file: path)]
        }
        if name.hasPrefix("port-app-config.") || looksLikeMapping(path) { return [.loneMapping(path)] }
        throw PathError(message: "\(path): not an integration.yml or a port-app-config (it has no resources:)")
    }

    static func isIntegration(_ directory: String) -> Bool {
        ["integration.yml", "integration.yaml"].contains { FileManager.default.fileExists(atPath: join(directory, $0)) }
    }

    /// A YAML file with a top-level `resources` key is taken as a port-app-config.
    static func looksLikeMapping(_ path: String) -> Bool {
        guard let root = try? YAML.parse(contentsOf: path) else { return path.hasSuffix(".yml") || path.hasSuffix(".yaml") }
        return root["resources"] != nil
    }

    /// Every directory below `base` (itself included) that holds an integration.yml, sorted;
    /// hidden and build directories are not entered.
    public static func integrations(below base: String) -> [String] {
        var found: [String] = []
        func walk(_ directory: String, depth: Int) {
            if isIntegration(directory) { found.append(directory) }
            guard depth < 16, let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
            for entry in entries.sorted() where !entry.hasPrefix(".") {
                let path = join(directory, entry)
                var isDirectory: ObjCBool = false
                if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
                    walk(path, depth: depth + 1)
                }
            }
        }
        walk(base, depth: 0)
        return found
    }

    static func join(_ directory: String, _ name: String) -> String {
        // "." is left out so paths read as the user would write them (jira/integration.yml).
        if directory.isEmpty || directory == "." { return name }
        return directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
