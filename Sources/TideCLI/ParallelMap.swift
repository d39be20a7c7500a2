import Foundation
import TideCore
import TideJQ
import TideMapping
import TideModel

/// `tide map --jobs N` over JSON lines: batches of lines are parsed and mapped by N threads, each
/// with its own compiled mapper (libjq state is per thread), and written in input order.
struct ParallelMap {
    let resource: ResourceConfig
    let options: MappingOptions
    let jobs: Int
    /// Lines per batch: enough to keep every thread busy, few enough to bound memory.
    let batchLines = 2_048

    struct Failure: Error { var message: String }

    /// Maps every line of `descriptor`; returns the merged report, or the first unusable line.
    func run(descriptor: Int32, output: OutputBuffer) -> (MappingReport, Failure?) {
        let mappers = (0..<jobs).map { _ in ResourceMapper(resource: resource, options: options) }
        let paths = options.partialParsing ? mappers[0].readPaths : .whole
        let plan = paths.isWhole ? nil : JSONProjectionPlan(paths)
        var report = MappingReport()
        var reader = LineReader(descriptor: descriptor)
        while true {
            let lines = reader.next(batchLines)
            if lines.isEmpty { break }
            // Each thread parses and maps its own lines with its own mapper.
            let results = inShares(count: lines.count, shares: jobs) { index, range in
                Self.map(lines[range], with: mappers[index], plan: plan)
            }
            for shard in results {
                for line in shard.lines { output.writeLine(line) }
                report.merge(shard.report)
                if let failure = shard.failure {
                    return (report, Failure(message: "line \(failure.line): \(failure.message)"))
                }
            }
        }
        return (report, nil)
    }

    struct Shard {
        var lines: [String] = []
        var report = MappingReport()
        var failure: (line: Int, message: String)?
    }

    /// One thread's share of a batch. Every JSON value is made and freed on this thread.
    static func map(_ lines: ArraySlice<(number: Int, bytes: [UInt8])>, with mapper: ResourceMapper, plan: JSONProjectionPlan?) -> Shard {
        var shard = Shard()
        for (number, bytes) in lines {
            let record: JSON
            do {
                record = try bytes.withUnsafeBufferPointer { buffer throws(JSONParseError) -> JSON in
                    if let plan, let value = JSON.parse(bytes: UnsafeRawBufferPointer(buffer), projection: plan) { return value }
                    return try JSON(parsing: buffer)
                }
            } catch {
                shard.failure = (number, "not valid JSON: \(error)")
                return shard
            }
            guard record.kind == .object else {
                shard.failure = (number, "a \(record.kind.name); with --jobs, RAW must be JSON lines of objects")
                return shard
            }
            mapper.map(record: record, report: &shard.report) { outcome in
                if case .entity(let entity, _) = outcome { shard.lines.append(entity.jsonText()) }
            }
        }
        return shard
    }
}

/// Non-empty lines of a file descriptor, read in large chunks.
struct LineReader {
    let descriptor: Int32
    private var buffer: [UInt8] = []
    /// Where the unread part of `buffer` starts.
    private var start = 0
    private var finished = false
    /// Physical lines consumed so far, blank ones included, for error messages.
    private var lineNumber = 0

    init(descriptor: Int32) { self.descriptor = descriptor }

    private static func isBlank(_ bytes: ArraySlice<UInt8>) -> Bool {
        !bytes.contains { $0 != 0x20 && $0 != 0x09 && $0 != 0x0D && $0 != 0x0A }
    }

    /// Up to `count` non-blank lines, each with its 1-based line number in the input.
    mutating func next(_ count: Int) -> [(number: Int, bytes: [UInt8])] {
        var lines: [(number: Int, bytes: [UInt8])] = []
        while lines.count < count {
            if let newline = buffer[start...].firstIndex(of: 0x0A) {
                let line = buffer[start..<newline]
                start = newline + 1
                lineNumber += 1
                if !Self.isBlank(line) { lines.append((lineNumber, Array(line))) }
                continue
            }
            if finished {
                if !Self.isBlank(buffer[start...]) { lines.append((lineNumber + 1, Array(buffer[start...]))) }
                buffer = []
                start = 0
                break
            }
            // Keep only the unread tail before reading more.
            buffer.removeSubrange(..<start)
            start = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 20)
            let read = chunk.withUnsafeMutableBytes { Foundation.read(descriptor, $0.baseAddress, $0.count) }
            if read <= 0 { finished = true } else { buffer += chunk[..<read] }
        }
        return lines
    }
}
