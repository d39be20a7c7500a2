import Testing
import TideCore

@Suite struct LockedTests {
    /// Many threads' increments under the lock are all counted: no update is lost.
    @Test func concurrentUpdatesAreNotLost() async {
        let counter = Locked(0)
        let tasks = 8, increments = 10_000
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<tasks {
                group.addTask { for _ in 0..<increments { counter.withLock { $0 += 1 } } }
            }
        }
        #expect(counter.current == tasks * increments)
    }

    @Test func bodiesReturnAndThrowTheirOwnTypes() throws {
        struct Refused: Error, Equatable {}
        let list = Locked([1, 2])
        let count = list.withLock { values -> Int in
            values.append(3)
            return values.count
        }
        #expect(count == 3)
        #expect(throws: Refused.self) { try list.withLock { (_: inout [Int]) throws(Refused) in throw Refused() } }
        // A throwing body changes nothing it did not change before throwing.
        #expect(list.current == [1, 2, 3])
    }

    @Test func theVersionIsSemantic() {
        #expect(TideVersion.current.wholeMatch(of: #/\d+\.\d+\.\d+(-[0-9A-Za-z.]+)?/#) != nil)
    }
}
