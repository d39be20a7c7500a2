import ArgumentParser
import Foundation
import TideLint

/// `tide schema NAME`: the JSON Schema of one of Tide's file formats, as committed in schemas/.
struct SchemaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schema",
        abstract: "Print the JSON Schema (2020-12) of integration.yml or port-app-config.yml.",
        discussion: """
        Generated from the definitions the loaders and `tide lint` use; schemas/ holds the same text \
        (regenerate with: tide schema integration > schemas/integration.schema.json).
        """
    )

    @Argument(help: ArgumentHelp("integration or port-app-config.", valueName: "NAME"))
    var name: String

    func run() throws {
        guard let schema = Schemas.Name(rawValue: name) else {
            Terminal.error("tide schema: unknown schema \"\(name)\"; choose one of \(Schemas.Name.allCases.map(\.rawValue).joined(separator: ", "))")
            throw ExitCode(2)
        }
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        output.writeLine(String(Schemas.text(schema).dropLast()))
        output.flush()
    }
}
