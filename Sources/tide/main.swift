import TideCLI

await TideCommand.runFromCommandLine()
