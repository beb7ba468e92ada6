import Datasets
import Foundation
import Testing

@Suite struct ScenarioTests {
    @Test func b0SplitsEvenly() throws {
        let order = [3, 1, 4, 0, 5, 2]
        let s = try Scenario(classOrder: order, initial: 0, increment: 2)
        #expect(s.initial == 2 && s.increment == 2 && s.taskCount == 3)
        #expect(s.tasks == [[3, 1], [4, 0], [5, 2]])
        #expect(s.seenClasses(upTo: 1) == [3, 1, 4, 0])
        #expect(s.name == "B0Inc2")
        // B0 Inc2 and B2 Inc2 are the same scenario.
        #expect(try Scenario(classOrder: order, initial: 2, increment: 2) == s)
    }

    @Test func remapIsPositionInClassOrder() throws {
        let s = try Scenario(classOrder: [3, 1, 4, 0, 5, 2], initial: 2, increment: 2)
        #expect([3, 1, 4, 0, 5, 2].map(s.remap) == [0, 1, 2, 3, 4, 5])
        #expect(s.remap(0) == 3 && s.position(of: 6) == nil && s.position(of: -1) == nil)
        #expect(s.task(of: 4) == 1 && s.task(of: 2) == 2 && s.task(of: 7) == nil)
    }

    @Test func largerFirstTask() throws {
        let s = try Scenario(classOrder: Array(0..<10), initial: 6, increment: 2)
        #expect(s.tasks == [[0, 1, 2, 3, 4, 5], [6, 7], [8, 9]])
        #expect(s.name == "B6Inc2")
        #expect(s.task(of: 5) == 0 && s.task(of: 6) == 1)
    }

    @Test func rejectsBadSplitsAndOrders() {
        // 10 classes, B0 Inc3: 10 − 3 = 7 is not a multiple of 3.
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: Array(0..<10), initial: 0, increment: 3) }
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: Array(0..<10), initial: 11, increment: 1) }
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: Array(0..<10), initial: 0, increment: 0) }
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: [0, 1, 1, 3], initial: 2, increment: 2) }
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: [0, 1, 2, 4], initial: 2, increment: 2) }
        #expect(throws: ScenarioError.self) { try Scenario(classOrder: [], initial: 0, increment: 2) }
    }

    @Test func parsesSplitNames() throws {
        #expect(try Scenario.parseSplit("B10Inc10") == (10, 10))
        #expect(try Scenario.parseSplit("B0Inc2") == (0, 2))
        #expect(try Scenario.parseSplit("b50inc5") == (50, 5))
        #expect(try Scenario.parseSplit("10-10") == (10, 10))
        for bad in ["B10", "Inc10", "B-1Inc2", "B10Inc0", "10-", "x"] {
            #expect(throws: ScenarioError.self) { try Scenario.parseSplit(bad) }
        }
        let s = try Scenario(classOrder: Array(0..<100), split: "B50Inc5")
        #expect(s.taskCount == 11 && s.tasks[0].count == 50)
    }

    @Test func seededOrderIsADeterministicPermutation() {
        let a = Scenario.seededOrder(classCount: 100, seed: 1993)
        #expect(a == Scenario.seededOrder(classCount: 100, seed: 1993))
        #expect(a.sorted() == Array(0..<100) && a != Array(0..<100))
        #expect(a != Scenario.seededOrder(classCount: 100, seed: 1994))
    }

    @Test func codableRoundTripValidates() throws {
        let s = try Scenario(classOrder: [3, 1, 4, 0, 5, 2], initial: 2, increment: 2)
        let data = try JSONEncoder().encode(s)
        #expect(try JSONDecoder().decode(Scenario.self, from: data) == s)
        let broken = #"{"classOrder":[0,1,1],"initial":1,"increment":1}"#
        #expect(throws: (any Error).self) { try JSONDecoder().decode(Scenario.self, from: Data(broken.utf8)) }
    }
}
