import ArgumentParser
import TideRuntime

/// The integration a command runs and how it is configured: what `tide run` and `tide record`
/// read the same way.
struct IntegrationOptions: ParsableArguments {
    @Argument(help: ArgumentHelp("The integration directory (with integration.yml).", valueName: "DIR"))
    var directory: String

    @Option(name: .long, parsing: .singleValue, help: ArgumentHelp("A configuration value; repeatable.", valueName: "name=value"))
    var config: [String] = []

    @Option(name: .long, help: ArgumentHelp("A YAML or JSON file of configuration values.", valueName: "FILE"))
    var configFile: String?

    @Option(name: .long, help: ArgumentHelp("A port-app-config.yml to use instead of the integration's default.", valueName: "FILE"))
    var mapping: String?

    func validate() throws { _ = try overrides() }

    /// `--config name=value` pairs by name (a later one wins).
    func overrides() throws -> [String: String] {
        var values: [String: String] = [:]
        for pair in config {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw ValidationError("--config takes name=value, got \"\(pair)\"")
            }
            values[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        return values
    }

    /// A plan for this integration, configured by these options, in `environment`.
    func plan(in environment: OceanEnvironment) throws -> RunPlan {
        var plan = RunPlan(directory: directory, environment: environment)
        plan.mapping = mapping
        plan.config = try overrides()
        plan.configFile = configFile
        return plan
    }
}
