import ArgumentParser
import Foundation
import TideLint

/// `tide docs`: the format reference (docs/reference.md), generated from the specs.
struct DocsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "docs",
        abstract: "Print the Markdown reference of Tide's formats (integration.yml, port-app-config.yml, test cases).",
        discussion: "docs/reference.md holds the same text (regenerate with: tide docs > docs/reference.md)."
    )

    func run() throws {
        let output = OutputBuffer(descriptor: STDOUT_FILENO)
        output.writeLine(String(Schemas.reference().dropLast()))
        output.flush()
    }
}
