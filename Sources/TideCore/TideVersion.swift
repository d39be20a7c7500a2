/// Tide's own version: the one place it is written. `tide --version` prints it and `/metrics`
/// exposes it as `tide_build_info{version="…"} 1`, so operators see one answer.
public enum TideVersion {
    public static let current = "0.1.0"
}
