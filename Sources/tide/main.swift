import TideCLI

await TideCommand.main()
