import Foundation
import TideTesting

// Port's API on loopback for the resync benchmark: the same stand-in the tests use, with the
// request log off. Prints "listening <base URL>" on standard output, then serves until killed.
// Credentials: client id "client-id", secret "client-secret".
var options = PortStandIn.Options()
options.recordsRequests = false
options.maxBodyBytes = 64 << 20
let standIn = try await PortStandIn.start(options: options)
FileHandle.standardOutput.write(Data("listening \(standIn.baseURL)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
