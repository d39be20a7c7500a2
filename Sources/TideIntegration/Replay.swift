import Foundation
import TideJQ

// How a replay (`tide test`, `tide run --replay`) points an integration at its fixture server.

extension Integration {
    /// The integration as a replay runs it: every request it can make moved to `origin` (a
    /// fixture server on loopback), paths kept — `http.baseUrl`, and a login or OAuth 2.0 token
    /// endpoint given as an absolute URL (`tokenUrl`), which would otherwise be called live from
    /// an offline run. Fixtures then answer the token endpoint's path like any other.
    public func replayed(at origin: String, configJSON: String) -> Integration {
        var moved = self
        moved.http.baseURL = TemplateSource(baseURL(movedTo: origin, configJSON: configJSON))
        let context = JSON(object: ["config": (try? JSON(parsing: configJSON)) ?? JSON(object: [:])])
        for index in moved.http.auth.indices {
            guard case .login(var login) = moved.http.auth[index].method, let url = login.request.url,
                  let template = try? CompiledTemplate(url), let rendered = try? template.renderString(context),
                  let parts = URLComponents(string: rendered), parts.scheme != nil else { continue }
            let path = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
            login.request.url = TemplateSource(origin + path + (parts.percentEncodedQuery.map { "?" + $0 } ?? ""), location: url.location)
            moved.http.auth[index].method = .login(login)
        }
        return moved
    }

    /// `http.baseUrl` as it renders for `configJSON`, moved to `origin` (a replay server on
    /// loopback) with its path kept: fixtures hold the paths the API receives, `/api/v4/projects`
    /// under a base URL of `https://gitlab.example.com/api/v4`. The origin alone when the base
    /// URL does not render.
    public func baseURL(movedTo origin: String, configJSON: String) -> String {
        let config = (try? JSON(parsing: configJSON)) ?? JSON(object: [:])
        guard let template = try? CompiledTemplate(http.baseURL),
              let rendered = try? template.renderString(JSON(object: ["config": config])),
              let path = URLComponents(string: rendered)?.percentEncodedPath, !path.isEmpty else { return origin }
        let trimmed = path.hasSuffix("/") ? String(path.dropLast()) : path
        return origin + (trimmed.hasPrefix("/") || trimmed.isEmpty ? trimmed : "/" + trimmed)
    }
}
