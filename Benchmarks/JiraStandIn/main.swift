import Foundation
import TideTesting

// A loopback stand-in for Jira Cloud's issue search (POST /rest/api/3/search/jql), serving N
// generated issues of about 3 KB in pages that follow `nextPageToken`. Pages are rendered from a
// template split around the issue number, so serving costs far less than Tide's work on them.
//
// A search whose JQL names one key (`key = "PRJ-7"`, as webhook refetches do) gets that issue alone.
//
// usage: tide-jira-standin --issues N [--page-size 100] [--port 0]
// Prints "listening <base URL>" on standard output, then serves until killed.

func option(_ name: String, _ fallback: Int) -> Int {
    guard let index = CommandLine.arguments.firstIndex(of: name), index + 1 < CommandLine.arguments.count,
          let value = Int(CommandLine.arguments[index + 1]) else { return fallback }
    return value
}

let total = option("--issues", 10_000)
let pageSize = option("--page-size", 100)
let port = option("--port", 0)

/// One issue with `#N#` where its number goes.
let issueTemplate = #"""
{"expand":"renderedFields,names,schema","id":"#N#","self":"https://example.atlassian.net/rest/api/3/issue/#N#","key":"PRJ-#N#","fields":{"summary":"Issue #N#: fix the thing — ünïcode ✓","status":{"self":"https://example.atlassian.net/rest/api/3/status/3","name":"In Progress","id":"3","statusCategory":{"key":"indeterminate","name":"In Progress"}},"issuetype":{"name":"Bug","subtask":false,"id":"10001"},"priority":{"name":"High","id":"2"},"labels":["backend","tech-debt"],"components":[{"name":"api","id":"10000"}],"created":"2024-03-01T10:00:00.000+0000","updated":"2024-03-05T12:30:00.000+0000","resolutiondate":null,"creator":{"accountId":"5b10ac8d82e05b22cc7d4ef5","emailAddress":"creator@example.com","displayName":"Creator","active":true,"timeZone":"Europe/Berlin","avatarUrls":{"48x48":"https://avatar.example.com/48.png","24x24":"https://avatar.example.com/24.png"}},"reporter":{"accountId":"5b10ac8d82e05b22cc7d4ef6","emailAddress":"reporter@example.com","displayName":"Reporter","active":true},"assignee":{"accountId":"5b10ac8d82e05b22cc7d4ef7","emailAddress":"assignee@example.com","displayName":"Assignee","active":true},"project":{"key":"PRJ","name":"Project","id":"10000"},"subtasks":[{"key":"PRJ-#N#1","id":"#N#1"}],"description":{"type":"doc","version":1,"content":[{"type":"paragraph","content":[{"type":"text","text":"Steps to reproduce: lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet lorem ipsum dolor sit amet"}]}]},"customfield_10020":null,"watches":{"watchCount":3,"isWatching":false}}}
"""#
let chunks = issueTemplate.components(separatedBy: "#N#").map { Array($0.utf8) }

func page(_ index: Int) -> [UInt8] {
    let first = index * pageSize
    let last = min(total, first + pageSize)
    var body = Array(#"{"issues":["#.utf8)
    body.reserveCapacity((last - first) * 3_200 + 100)
    for number in first..<last {
        if number > first { body.append(UInt8(ascii: ",")) }
        let digits = Array(String(number + 1).utf8)
        for (position, chunk) in chunks.enumerated() {
            body += chunk
            if position < chunks.count - 1 { body += digits }
        }
    }
    body += last < total ? Array(#"],"nextPageToken":"\#(index + 1)","isLast":false}"#.utf8) : Array(#"],"isLast":true}"#.utf8)
    return body
}

let server = try await TestHTTPServer.start(port: port, recordsRequests: false) { request in
    guard request.method == "POST", request.path == "/rest/api/3/search/jql" else {
        return .json(#"{"errorMessages":["not served by the stand-in"]}"#, status: 404)
    }
    // A read of one issue by key (a webhook refetch: `key = "PRJ-7" AND (…)`): that issue alone.
    if let range = request.bodyText.range(of: #"key = \\"PRJ-(\d+)\\""#, options: .regularExpression),
       let number = Int(request.bodyText[range].filter(\.isNumber)), number >= 1, number <= total {
        var body = Array(#"{"issues":["#.utf8)
        let digits = Array(String(number).utf8)
        for (position, chunk) in chunks.enumerated() {
            body += chunk
            if position < chunks.count - 1 { body += digits }
        }
        body += Array(#"],"isLast":true}"#.utf8)
        return TestResponse(status: 200, headers: [TestHeader("Content-Type", "application/json")], body: body)
    }
    // The token is the page number; the first request has none.
    var index = 0
    if let range = request.bodyText.range(of: #""nextPageToken":"(\d+)""#, options: .regularExpression) {
        index = Int(request.bodyText[range].filter(\.isNumber)) ?? 0
    }
    return TestResponse(status: 200, headers: [TestHeader("Content-Type", "application/json")], body: page(index))
}
FileHandle.standardOutput.write(Data("listening \(server.baseURL)\n".utf8))
while true { try await Task.sleep(for: .seconds(3600)) }
