/// jq definitions prepended to every program so that Debian's libjq (jq 1.6) gives the results
/// of jq 1.8.2, the version port-ocean 0.56.2 runs. Each definition is checked against jq 1.8.2's
/// recorded output in Tests/TideJQTests (see scripts/jq-oracle.py).
public enum JQPrelude {
    public static let source = """
    def pick(pathexps): . as $top | reduce path(pathexps) as $p (null; setpath($p; $top | getpath($p)));

    """

    /// Appended after the prelude when environment access is switched off, as Ocean does.
    static let withoutEnvironment = "def env: {}; {} as $ENV | "
}
