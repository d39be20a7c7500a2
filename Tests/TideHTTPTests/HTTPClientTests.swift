import Foundation
import Testing
import TideHTTP
import TideTesting

@Suite("HTTP client basics", .timeLimit(.minutes(3)))
struct HTTPClientBasicsTests {
    @Test func getReturnsStatusHeadersAndBody() async throws {
        try await withServer(handler: { request in
            .json(#"{"path":"\#(request.path)","startAt":"\#(request.queryValue("startAt") ?? "")"}"#)
        }) { server, client in
            let response = try await client.send(HTTPRequest(url: server.url("/rest/api/3/project/search?startAt=50")))
            #expect(response.status == 200)
            #expect(response.reason == "OK")
            #expect(response.headers["content-type"] == "application/json")
            #expect(response.text == #"{"path":"/rest/api/3/project/search","startAt":"50"}"#)
            #expect(response.url == server.url("/rest/api/3/project/search?startAt=50"))
            #expect(response.timing.attempts == 1)
            let seen = try #require(server.requests.first)
            #expect(seen.method == "GET")
            #expect(seen.header("User-Agent") == "tide")
        }
    }

    @Test func postSendsJSONBody() async throws {
        try await withServer(handler: { request in
            .json(request.bodyText, status: 201, headers: [TestHeader("X-Method", request.method)])
        }) { server, client in
            let body = #"{"jql":"project = TIDE","maxResults":50}"#
            let response = try await client.send(.json(url: server.url("/rest/api/3/search"), body: body))
            #expect(response.status == 201)
            #expect(response.text == body)
            #expect(response.headers["x-method"] == "POST")
            let seen = try #require(server.requests.first)
            #expect(seen.header("Content-Type") == "application/json")
            #expect(seen.header("Expect") == nil)
            #expect(seen.bodyText == body)
        }
    }

    @Test func putPatchDeleteAndHead() async throws {
        try await withServer(handler: { request in
            .text("\(request.method) \(request.bodyText)")
        }) { server, client in
            let put = try await client.send(HTTPRequest(method: .put, url: server.url("/x"), body: Array("a".utf8)))
            #expect(put.text == "PUT a")
            let patch = try await client.send(HTTPRequest(method: .patch, url: server.url("/x"), body: Array("b".utf8)))
            #expect(patch.text == "PATCH b")
            let delete = try await client.send(HTTPRequest(method: .delete, url: server.url("/x")))
            #expect(delete.text == "DELETE ")
            let head = try await client.send(HTTPRequest(method: .head, url: server.url("/x")))
            #expect(head.status == 200)
            #expect(head.body.isEmpty)
            #expect(server.requests.map(\.method) == ["PUT", "PATCH", "DELETE", "HEAD"])
        }
    }

    @Test func repeatedHeadersBothWays() async throws {
        try await withServer(handler: { request in
            TestResponse(headers: [TestHeader("Set-Cookie", "a=1"), TestHeader("Set-Cookie", "b=2"),
                                   TestHeader("X-Seen", request.headerValues("x-multi").joined(separator: ","))])
        }) { server, client in
            var headers: HTTPHeaders = ["Accept": "application/json"]
            headers.add("X-Multi", "one")
            headers.add("X-Multi", "two")
            let response = try await client.send(HTTPRequest(url: server.url("/h"), headers: headers))
            #expect(response.headers.values(for: "set-cookie") == ["a=1", "b=2"])
            #expect(response.headers["SET-COOKIE"] == "a=1")
            #expect(response.headers["x-seen"] == "one,two")
            let seen = try #require(server.requests.first)
            #expect(seen.header("accept") == "application/json")
        }
    }

    @Test func gzipAndChunkedBodiesAreDecoded() async throws {
        let text = String(repeating: "tide gzip ✓ ", count: 10_000)
        try await withServer(handler: { request in
            var response = TestResponse.text(text)
            response.gzip = request.path == "/gzip"
            response.framing = request.path == "/chunked" ? .chunked : .contentLength
            return response
        }) { server, client in
            let gzip = try await client.send(HTTPRequest(url: server.url("/gzip")))
            #expect(gzip.text == text)
            #expect(gzip.headers["content-encoding"] == "gzip")
            let accept = try #require(server.requests.first?.header("Accept-Encoding"))
            #expect(accept.contains("gzip"))
            #expect(accept.contains("deflate"))
            let chunked = try await client.send(HTTPRequest(url: server.url("/chunked")))
            #expect(chunked.text == text)
        }
    }

    @Test func sequentialRequestsReuseOneConnection() async throws {
        try await withServer(handler: { _ in .json("{}") }) { server, client in
            for page in 0..<6 {
                _ = try await client.send(HTTPRequest(url: server.url("/page?n=\(page)")))
            }
            #expect(server.requests.count == 6)
            #expect(server.connectionsAccepted == 1)
            #expect(Set(server.requests.map(\.connectionID)).count == 1)
        }
    }

    @Test func errorStatusThrowsUnlessAskedNotTo() async throws {
        try await withServer(handler: { _ in .json(#"{"errorMessages":["nope"]}"#, status: 404) }) { server, client in
            let error = try #require(await client.expectFailure(HTTPRequest(url: server.url("/missing"))))
            #expect(error.kind == .status)
            #expect(error.status == 404)
            #expect(error.attempts == 1)
            var request = HTTPRequest(url: server.url("/missing"))
            request.throwsOnErrorStatus = false
            let response = try await client.send(request)
            #expect(response.status == 404)
            #expect(response.reason == "Not Found")
        }
    }

    @Test func invalidURLs() async throws {
        let client = HTTPClient(configuration: .init(retry: .fast))
        for url in ["ftp://example.com/file", "http://", "not a url at all"] {
            let error = try #require(await client.expectFailure(HTTPRequest(url: url)))
            #expect(error.kind == .invalidURL, "\(url): \(error)")
            #expect(error.attempts == 1)
        }
        await client.shutdown()
    }

    @Test func thousandConcurrentRequestsComplete() async throws {
        try await withServer(handler: { request in .text(request.queryValue("i") ?? "?") }) { server, client in
            let results = try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in 0..<1000 {
                    group.addTask {
                        let response = try await client.send(HTTPRequest(url: server.url("/item?i=\(index)")))
                        return (index, response.text)
                    }
                }
                var results: [Int: String] = [:]
                for try await (index, text) in group { results[index] = text }
                return results
            }
            #expect(results.count == 1000)
            #expect(results.allSatisfy { String($0.key) == $0.value })
            #expect(server.requests.count == 1000)
            #expect(server.maxConcurrentRequests <= client.configuration.maxConcurrentRequests)
        }
    }

    @Test func shutdownFailsNewAndRunningRequests() async throws {
        // The answer waits long enough that a loaded machine cannot deliver it before the shutdown.
        let server = try await TestHTTPServer.start { _ in TestResponse(delay: .seconds(60)) }
        let client = HTTPClient(configuration: .init(retry: .never))
        let running = Task { await client.expectFailure(HTTPRequest(url: server.url("/slow"))) }
        while server.requests.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        await client.shutdown()
        let error = try #require(await running.value)
        #expect(error.kind == .cancelled)
        let after = try #require(await client.expectFailure(HTTPRequest(url: server.url("/slow"))))
        #expect(after.kind == .cancelled)
        await client.shutdown()  // twice is fine
        await server.stop()
    }
}
