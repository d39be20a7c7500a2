import Foundation
import Synchronization

/// Bounds on what one jq evaluation may cost, for work the watchdog's clock cannot stop: libjq
/// checks for a halt only between instructions, so a single builtin call runs to its end.
///
/// - A global regular expression (`gsub`, `scan`, `splits`, `split/2`, `match(re; "g")`) costs
///   time quadratic in its string in libjq 1.6 (each match's position is counted from the start):
///   300,000 characters took 90 s. Over `globalRegexCharacters` it is an error (about 1 s at the
///   limit).
/// - Repeating a string (`"x" * n`) is one allocation: over `stringBytes` it is an error.
/// - Memory: while any evaluation runs, the watchdog reads the process's resident size; past
///   `memoryLimitBytes` it stops the running evaluations (`[range(1e9)]`), which fail with
///   `JQRuntimeError.memoryLimit`.
public enum JQLimits {
    public static let globalRegexCharacters = 32_768
    public static let stringBytes = 16 << 20
    /// The limit a run puts in force unless `TIDE_MAX_MEMORY_MB` says otherwise: 1 GiB of resident
    /// memory for the whole process.
    public static let defaultMemoryLimitBytes = 1 << 30

    // Off until a run turns it on (`OceanEnvironment.applyLimits`): a process-wide limit is the
    // product's policy, not the library's, and a process that hosts other work (the test suite)
    // must not have its evaluations stopped for memory it uses elsewhere.
    private static let memoryLimit = Atomic<Int>(0)

    /// The process's resident-memory limit while jq runs (`TIDE_MAX_MEMORY_MB`); 0, the library's
    /// default, turns it off.
    public static var memoryLimitBytes: Int {
        get { memoryLimit.load(ordering: .relaxed) }
        set { memoryLimit.store(max(0, newValue), ordering: .relaxed) }
    }

    /// The process's resident set size in bytes (Linux: /proc/self/statm), or nil.
    static func residentBytes() -> Int? {
        let descriptor = open("/proc/self/statm", O_RDONLY)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = read(descriptor, &buffer, buffer.count)
        guard count > 0 else { return nil }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
