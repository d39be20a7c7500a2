import TideSpec

/// The definition of `integration.yml`. Loading, lint, `tide schema` and the format reference
/// are all derived from this one tree.
public enum IntegrationSpec {
    static let template = SpecType.string(.template)
    static let jq = SpecType.string(.jq)
    static let templates = SpecType.map(.string(.template))

    static let configurationField = SpecType.object(ObjectSpec("A setting of the installation, as in Ocean's spec.yaml.", fields: [
        FieldSpec("name", .string(), required: true, "camelCase name; the environment variable is OCEAN__INTEGRATION__CONFIG__<SNAKE_CASE>."),
        FieldSpec("type", .enumeration(["string", "integer", "boolean", "object", "array", "url"]), default: "\"string\"",
                  "Value type; a url loses its trailing slash."),
        FieldSpec("required", .boolean, default: "false", "A run stops before any request when a required value is missing."),
        FieldSpec("default", .json, "Value used when none is given."),
        FieldSpec("sensitive", .boolean, default: "false", "Never shown in logs, errors or --dry-run output."),
        FieldSpec("description", .string(), "What the setting is for."),
    ]))

    static let loginRequest = SpecType.object(ObjectSpec("The request that obtains a token.", fields: [
        FieldSpec("method", .enumeration(["GET", "POST", "PUT"]), default: "\"POST\"", "HTTP method."),
        FieldSpec("path", template, "Path below baseUrl."),
        FieldSpec("url", template, "Absolute URL, instead of path."),
        FieldSpec("query", templates, "Query parameters."),
        FieldSpec("headers", templates, "Headers."),
        FieldSpec("body", .json, "JSON body; strings may be templates."),
        FieldSpec("form", templates, "Form fields (application/x-www-form-urlencoded), instead of body."),
    ]))

    static let auth = SpecType.tagged(TaggedSpec(variants: [
        .init("none", ObjectSpec("No authentication.", fields: [])),
        .init("basic", ObjectSpec("HTTP Basic authentication.", fields: [
            FieldSpec("username", template, required: true, "User name."),
            FieldSpec("password", template, required: true, "Password or API token."),
        ])),
        .init("bearer", ObjectSpec("Authorization: Bearer <token>.", fields: [
            FieldSpec("token", template, required: true, "The token."),
        ])),
        .init("apiKey", ObjectSpec("An API key in a header or a query parameter.", fields: [
            FieldSpec("name", .string(), required: true, "Header or query parameter name."),
            FieldSpec("value", template, required: true, "The key; may be prefixed, e.g. \"Token token={{ .config.token }}\"."),
            FieldSpec("in", .enumeration(["header", "query"]), default: "\"header\"", "Where the key goes."),
        ])),
        .init("oauth2", ObjectSpec("OAuth 2.0 (RFC 6749): an access token from the token endpoint, by the client credentials or the refresh token grant; renewed before it expires (expires_in) and on 401, as login's.", fields: [
            FieldSpec("grant", .enumeration(["clientCredentials", "refreshToken"]), default: "\"clientCredentials\"", "The grant: the client's own credentials (section 4.4), or a refresh token (section 6)."),
            FieldSpec("tokenUrl", template, required: true, "The token endpoint (absolute). Credentials for it go there only."),
            FieldSpec("clientId", template, required: true, "The client identifier."),
            FieldSpec("clientSecret", template, "The client secret (a sensitive setting)."),
            FieldSpec("refreshToken", template, "The refresh token, for grant: refreshToken (a sensitive setting)."),
            FieldSpec("scope", template, "Scopes, space-separated; left out when empty."),
            FieldSpec("params", templates, "More form fields the provider wants (audience, resource…)."),
            FieldSpec("clientAuth", .enumeration(["body", "basic"]), default: "\"body\"", "How the client authenticates: client_id and client_secret in the form (body), or HTTP Basic (basic)."),
        ])),
        .init("login", ObjectSpec("Log in with a request whose response yields a token; renewed before expiry and on 401.", fields: [
            FieldSpec("request", loginRequest, required: true, "The login request."),
            FieldSpec("token", jq, required: true, "jq over the login response body giving the token."),
            FieldSpec("expiresIn", jq, "jq over the login response body giving the token's lifetime in seconds."),
            FieldSpec("header", template, default: "\"Bearer {{ .token }}\"", "Authorization header value; sees .token."),
            FieldSpec("jwt", jwt, "A JSON Web Token signed before each login; the login request's templates see it as .jwt (GitHub Apps)."),
        ])),
    ], defaultVariant: nil, commonFields: [
        FieldSpec("when", jq, "jq over {config}; the first scheme whose `when` is true (or absent) is used."),
    ]))

    static let jwt = SpecType.object(ObjectSpec("A JSON Web Token (RFC 7519) made for each login.", fields: [
        FieldSpec("algorithm", .enumeration(["RS256", "HS256"]), default: "\"RS256\"", "RS256: RSA with SHA-256 and a PEM private key; HS256: HMAC-SHA256 with a shared secret."),
        FieldSpec("key", template, required: true, "The signing key (PEM for RS256, the secret for HS256); read it from a sensitive setting."),
        FieldSpec("claims", .json, "Claims; strings may be templates over {config}. iat (60 s ago, for clock drift) and exp are added."),
        FieldSpec("lifetime", .integer(minimum: 1, maximum: 86400), default: "540", "Seconds from now to exp."),
    ]))

    static let timeout = SpecType.object(ObjectSpec("Timeouts in seconds.", fields: [
        FieldSpec("connect", .number(minimum: 0.001), default: "10", "Connection timeout."),
        FieldSpec("total", .number(minimum: 0.001), default: "60", "Whole-request timeout."),
    ]))

    static let retry = SpecType.object(ObjectSpec("Retries of failed requests, with exponential backoff and jitter.", fields: [
        FieldSpec("attempts", .integer(minimum: 1, maximum: 50), default: "5", "Attempts in all, the first included."),
        FieldSpec("statuses", .array(.integer(minimum: 100, maximum: 599)), default: "[429, 502, 503, 504]",
                  "Statuses retried, besides connection errors and timeouts."),
        FieldSpec("maxWait", .number(minimum: 0), default: "120", "Most seconds spent waiting between attempts, Retry-After included."),
    ]))

    static let rateLimit = SpecType.object(ObjectSpec("A proactive request rate: a token bucket that starts full (a burst of `requests`) and refills at `requests` per `per` seconds.", fields: [
        FieldSpec("requests", .integer(minimum: 1), required: true, "Requests allowed…"),
        FieldSpec("per", .number(minimum: 0.001), required: true, "…per this many seconds."),
    ]))

    static let http = SpecType.object(ObjectSpec("How to reach the third party's API.", fields: [
        FieldSpec("baseUrl", template, required: true, "Base URL that request paths are appended to."),
        FieldSpec("headers", templates, "Headers sent with every request; a null value is not sent."),
        FieldSpec("auth", .either([auth, .array(auth)]), "Authentication: one scheme, or a list tried by `when`."),
        FieldSpec("timeout", timeout, "Timeouts."),
        FieldSpec("concurrency", .integer(minimum: 1, maximum: 256), default: "10",
                  "Requests in flight at once to one API host, shared by every kind, partition and webhook refetch of the run; halved on 429 and 503 answers and grown back one at a time. Operators override it with --concurrency or TIDE_HTTP_CONCURRENCY."),
        FieldSpec("retry", retry, "Retry policy."),
        FieldSpec("rateLimit", rateLimit,
                  "At most `requests` requests per `per` seconds to one API host, shared like `concurrency`; without it the rate is bounded by concurrency and by what the API's 429s, Retry-After and rate-limit headers say. Operators override it with --rate-limit or TIDE_HTTP_RATE_LIMIT (20/s, 600/min, none)."),
        FieldSpec("liveShare", .number(minimum: 0, maximum: 0.5), default: "0.1",
                  "The share of concurrency, rate and the API's own quota that a resync leaves to webhook refetches while the webhook service runs, so a long resync cannot starve live events."),
        FieldSpec("verifyTLS", .boolean, default: "true", "Verify TLS certificates (turning this off is unsafe)."),
        FieldSpec("maxResponseBytes", .integer(minimum: 1024), default: "33554432",
                  "The largest response body accepted (32 MiB by default); a larger page fails its kind with nothing deleted. Memory while a page is read is a few times this at most."),
        FieldSpec("allowedHosts", .array(.string()),
                  "Other hosts (api.example.com, any port over https) or origins (http://host:port) that next-page links and redirects may lead to. Requests go nowhere else, and credentials go only to baseUrl's origin: these hosts never receive them."),
    ]))

    static let selectorField = SpecType.object(ObjectSpec("A selector field that a port-app-config resource may set.", fields: [
        FieldSpec("type", .enumeration(["string", "integer", "number", "boolean", "array", "object"]), default: "\"string\"", "Value type."),
        FieldSpec("default", .json, "Value when the resource does not set it."),
        FieldSpec("description", .string(), "What it does."),
        FieldSpec("enum", .array(.json), "Allowed values."),
    ]))

    static let request = SpecType.object(ObjectSpec("An HTTP request (a kind's page request, a login, a webhook registration): method, path or url, query, headers, body.", fields: [
        FieldSpec("method", .enumeration(["GET", "POST", "PUT", "PATCH"]), default: "\"GET\"", "HTTP method."),
        FieldSpec("path", template, "Path appended to http.baseUrl."),
        FieldSpec("url", template, "Absolute URL, instead of path."),
        FieldSpec("query", templates, "Query parameters; a null value drops the parameter."),
        FieldSpec("headers", templates, "Headers for this kind."),
        FieldSpec("body", .json, "JSON body; strings may be templates, which keep their JSON type; null drops the key."),
        FieldSpec("retryable", .boolean, "Whether a failed request may be sent again (GET always may); set it for POSTs that only read, such as searches."),
        FieldSpec("graphql", graphql, "A GraphQL query, sent as the JSON body {query, variables} with POST (instead of body); a response whose errors array is not empty fails the page."),
    ]))

    static let graphql = SpecType.object(ObjectSpec("A GraphQL query and its variables.", fields: [
        FieldSpec("query", .string(), required: true, "The query document, as written (not a template: pass values through variables)."),
        FieldSpec("variables", .json, "Variables; strings may be templates, which keep their JSON type."),
    ]))

    static let paginationPlace = SpecType.enumeration(["query", "body"])
    static let pagination = SpecType.tagged(TaggedSpec(variants: [
        .init("none", ObjectSpec("One request.", fields: [])),
        .init("offset", ObjectSpec("An offset and a page size.", fields: [
            FieldSpec("offsetParam", .string(), default: "\"offset\"", "Name of the offset parameter."),
            FieldSpec("limitParam", .string(), default: "\"limit\"", "Name of the page-size parameter."),
            FieldSpec("limit", .integer(minimum: 1), default: "50", "Page size."),
            FieldSpec("start", .integer(minimum: 0), default: "0", "First offset."),
            FieldSpec("in", paginationPlace, default: "\"query\"", "Where the parameters go."),
            FieldSpec("total", jq, "jq giving the total number of records; reading stops there."),
        ])),
        .init("page", ObjectSpec("A page number and a page size.", fields: [
            FieldSpec("pageParam", .string(), default: "\"page\"", "Name of the page parameter."),
            FieldSpec("sizeParam", .string(), default: "\"size\"", "Name of the page-size parameter."),
            FieldSpec("size", .integer(minimum: 1), default: "50", "Page size."),
            FieldSpec("start", .integer(minimum: 0), default: "1", "First page number."),
            FieldSpec("in", paginationPlace, default: "\"query\"", "Where the parameters go."),
            FieldSpec("total", jq, "jq giving the total number of pages; reading stops there."),
        ])),
        .init("cursor", ObjectSpec("A token from each response sent with the next request.", fields: [
            FieldSpec("cursor", jq, required: true, "jq giving the next cursor; null or empty ends."),
            FieldSpec("param", .string(), required: true, "Name of the parameter that carries the cursor."),
            FieldSpec("in", paginationPlace, default: "\"query\"", "Where the cursor goes."),
        ])),
        .init("nextUrl", ObjectSpec("The response gives the next page's URL.", fields: [
            FieldSpec("next", jq, required: true, "jq giving the next URL (absolute, or relative to the URL of the page that gave it); null or empty ends."),
        ])),
        .init("linkHeader", ObjectSpec("RFC 8288 Link header.", fields: [
            FieldSpec("rel", .string(), default: "\"next\"", "Relation to follow."),
        ])),
        .init("graphql", ObjectSpec("GraphQL's cursor connections: pageInfo { endCursor hasNextPage } gives the next page's cursor, sent as a variable of the request's graphql query.", fields: [
            FieldSpec("pageInfo", jq, required: true, "jq over the response body giving the connection's pageInfo object (.data.repository.issues.pageInfo)."),
            FieldSpec("variable", .string(), default: "\"after\"", "The query variable that takes the cursor."),
        ])),
    ], defaultVariant: "none", commonFields: [
        FieldSpec("stop", jq, "jq over the response body (with $headers and $page) that ends pagination when true."),
        FieldSpec("maxPages", .integer(minimum: 1), "Most pages read; more is an error."),
    ]))

    static let responseRule = SpecType.object(ObjectSpec(
        "What a response means before its records are read; the kind's rules are tried in order and the first that matches decides. Give status or when.", fields: [
        FieldSpec("status", .array(.integer(minimum: 100, maximum: 599)), "Statuses the rule matches, as the API's answer stands after the client's retries (403, 404…)."),
        FieldSpec("when", jq, "jq over a 2xx response body (with $headers) that is true for the responses the rule matches: an error answered with 200 (GraphQL's .errors != null, Slack's .ok == false)."),
        FieldSpec("action", .enumeration(["skip", "fail", "retry"]), required: true,
                  "skip: this run (parent record, partition, or the kind) has no records, with a warning and a count, and the resource's stale entities are kept this time; for a webhook refetch the record is not there, so its entity is deleted. fail: the page fails (nothing of the kind is deleted). retry: retried like http.retry.statuses (status rules only)."),
    ], exactlyOneOf: ["status", "when"]))

    static let partitionCount = SpecType.object(ObjectSpec("A request that counts the whole, unpartitioned set (templates see .partition as null).", fields: [
        FieldSpec("request", request, required: true, "The counting request (Jira: POST /rest/api/3/search/approximate-count)."),
        FieldSpec("value", jq, required: true, "jq over the response body giving the count."),
    ]))

    static let dateWindows = SpecType.object(ObjectSpec("Consecutive date windows; .partition is {from, to} in seconds since 1970, from null in the first window and to null in the last, so that together they cover every instant.", fields: [
        FieldSpec("start", .string(), required: true, "Where the second window begins, as an ISO 8601 date or date-time (2020-01-01, 2020-01-01T00:00:00Z); the first window holds everything before."),
        FieldSpec("days", .integer(minimum: 1), required: true, "Length of each window in days; the last window is open towards the future."),
    ]))

    static let partitions = SpecType.object(ObjectSpec(
        "Splits a kind's records into partitions, each paginated on its own and fetched side by side, for the kind's `concurrency` at once; templates see the partition's value as .partition (null when the kind is read whole: webhook refetches, or after a count showed the partitions missed records). Give exactly one of fromKind, values and dateWindows.", fields: [
        FieldSpec("fromKind", .string(), "A kind whose every record gives one partition (read with its selector defaults)."),
        FieldSpec("value", jq, default: "\".\"", "jq over each record of fromKind giving its partition's value."),
        FieldSpec("values", jq, "jq over {config, selector} giving the array of partition values."),
        FieldSpec("dateWindows", dateWindows, "Partitions by date windows (complete by construction when the field they filter on never changes, such as a creation date)."),
        FieldSpec("count", partitionCount, "Checks completeness: after the partitions, the records read are compared with this count of the whole set, and when fewer the kind is read once more unpartitioned, so that nothing is deleted for a record no partition held."),
        FieldSpec("complete", .boolean, default: "false", "States that the partitions always cover the whole set. Without it, count or dateWindows, nothing of the kind's resources is ever deleted as stale."),
    ], exactlyOneOf: ["fromKind", "values", "dateWindows"]))

    static let incremental = SpecType.object(ObjectSpec(
        "Lets incremental passes (tide run --incremental, OCEAN__INTEGRATION__INCREMENTAL_SYNC_ENABLED) read only what changed: templates see .cursor, the last successful pass's start for this resource and run (partition or parent record), and use it to narrow the request. .cursor is null in full resyncs, webhook refetches and a run no pass has completed yet, which is then read whole. An incremental pass never deletes.", fields: [
        FieldSpec("lookback", .integer(minimum: 0), default: "60",
                  "Seconds subtracted from the last pass's start in .cursor.since, for clock skew between Tide and the API and for records the API indexes late."),
        FieldSpec("key", jq, default: "\".parent.id\"",
                  "For a kind with parent: jq over {parent} naming the parent record's run, so each parent keeps its own cursor (null: the run has no cursor and is always read whole)."),
    ]))

    static let kind = SpecType.object(ObjectSpec("A kind of record that port-app-config resources name.", fields: [
        FieldSpec("description", .string(), "What the records are."),
        FieldSpec("parent", .string(), "A kind whose every record runs this kind's request once (available as .parent in templates, $parent in records)."),
        FieldSpec("selector", .map(selectorField), "Selector fields a resource may set, with their defaults."),
        FieldSpec("request", request, required: true, "The request."),
        FieldSpec("records", jq, default: "\".\"", "jq over the response body giving the page's records; $parent is the parent record (null without parent:)."),
        FieldSpec("objectIsOneRecord", .boolean, default: "false",
                  "Whether an object where records expects the list is one record (an endpoint that reads one item by id, GET /services/{id}). Otherwise such a page fails: an error body must not pass for a record."),
        FieldSpec("nullIsEmpty", .boolean, default: "false",
                  "Whether records giving null (the list's key absent, an empty body) means the page has no records. Otherwise such a page fails the kind and nothing of it is deleted."),
        FieldSpec("pagination", pagination, "How to get the next page."),
        FieldSpec("responses", .array(responseRule), "What responses mean before their records are read: skip a parent or partition the API refuses (GitLab's 403 for a project without merge requests), treat an error body with status 200 as a failure, retry a status."),
        FieldSpec("partitions", partitions, "Split the records into partitions fetched side by side (not with parent:)."),
        FieldSpec("concurrency", .integer(minimum: 1, maximum: 32), default: "4",
                  "Pagination runs (one per parent record or partition) fetched at once; each keeps its own pages in order."),
          FieldSpec("incremental", incremental, "Read only what changed since the last pass, between full resyncs (see .cursor)."),
    ]))


    static let webhookVerify = SpecType.tagged(TaggedSpec(variants: [
        .init("hmac", ObjectSpec("An HMAC of the raw body in a header (GitHub's X-Hub-Signature-256: sha256=…).", fields: [
            FieldSpec("secret", template, required: true, "The shared secret; when it renders empty, nothing is verified (lint warns)."),
            FieldSpec("header", .string(), required: true, "Header carrying the signature."),
            FieldSpec("prefix", .string(), default: "\"\"", "Text before the signature, e.g. \"sha256=\"."),
            FieldSpec("algorithm", .enumeration(["sha256", "sha1"]), default: "\"sha256\"", "Hash function."),
            FieldSpec("encoding", .enumeration(["hex", "base64"]), default: "\"hex\"", "How the signature is written."),
            FieldSpec("separator", .string(),
                      "Splits the header into several signatures, each with `prefix` (PagerDuty: \"v1=…,v1=…\" while a secret is rotated); any one that matches passes."),
        ])),
        .init("standardWebhooks", ObjectSpec("The Standard Webhooks scheme: webhook-id, webhook-timestamp, webhook-signature (v1,<base64>).", fields: [
            FieldSpec("secrets", .either([template, .array(template)]), required: true,
                      "Secret(s), whsec_-prefixed base64 or raw; several for rotation (any one may match)."),
            FieldSpec("tolerance", .integer(minimum: 1), default: "300", "Most seconds between the timestamp and now, either way."),
        ])),
        .init("token", ObjectSpec("A shared token in a header or a query parameter, compared in constant time.", fields: [
            FieldSpec("secret", template, required: true, "The token."),
            FieldSpec("header", .string(), "Header carrying the token."),
            FieldSpec("query", .string(), "Query parameter carrying the token (when no header is named)."),
        ])),
    ], defaultVariant: nil))

    static let webhookEvent = SpecType.object(ObjectSpec("An event matcher: which payloads, which kinds, what to do.", fields: [
        FieldSpec("name", .string(), "A name for logs and metrics."),
        FieldSpec("match", jq, required: true, "jq over {payload, headers} that is true for the events this matcher handles."),
        FieldSpec("kinds", .array(.string()), required: true, "Kinds the event concerns; every mapping resource of those kinds is applied."),
        FieldSpec("item", jq, default: "\".payload\"", "jq over {payload, headers} giving the record (the kind's raw item)."),
        FieldSpec("action", .enumeration(["upsert", "delete", "refetch"]), default: "\"upsert\"",
                  "upsert the item, delete it, or refetch it through the kind's request narrowed by `refetch` (empty result: delete)."),
        FieldSpec("refetch", .map(jq), "Selector values for the refetch, each jq over {payload, item, selector, config}."),
        FieldSpec("parent", jq, "For a refetch of a kind with parent: jq over {payload, item, selector, config} giving the parent record its request reads (.parent in templates), so that one run is read instead of listing every parent."),
        FieldSpec("key", jq, "jq over {payload, item} giving the entity's ordering key; events with one key apply in arrival order."),
    ]))

    static let webhookRetry = SpecType.object(ObjectSpec("Retries of a failed refetch, with exponential backoff.", fields: [
        FieldSpec("attempts", .integer(minimum: 1, maximum: 20), default: "4", "Attempts in all, the first included."),
        FieldSpec("initialDelay", .number(minimum: 0), default: "1", "Seconds before the second attempt; doubled after each."),
        FieldSpec("maxDelay", .number(minimum: 0), default: "30", "Most seconds between attempts."),
    ]))

    static let webhookRegistration = SpecType.object(ObjectSpec(
        "Creates the webhook at the third party when `tide run` starts serving (not with ONCE, and only when OCEAN__BASE_URL says where the third party reaches Tide). Templates and jq see {config, url}, url being OCEAN__BASE_URL + /integration + path.", fields: [
        FieldSpec("when", jq, "jq over {config, url}; registration is skipped unless it is true."),
        FieldSpec("list", request, "A request listing the webhooks that exist, sent first."),
        FieldSpec("exists", jq, "jq over the list response body, with $url and $config, that is true when this webhook already exists (nothing is created then)."),
        FieldSpec("create", request, required: true, "The request that creates the webhook (set its method, usually POST)."),
    ]))

    static let webhook = SpecType.object(ObjectSpec("A webhook endpoint, served at POST /integration<path>.", fields: [
        FieldSpec("path", .string(), required: true, "Path below /integration, e.g. /webhook."),
        FieldSpec("verify", .either([webhookVerify, .array(webhookVerify)]),
                  "Verification; with several, every scheme whose secret is set must pass. Fails closed when a secret is set."),
        FieldSpec("events", .array(webhookEvent), required: true, "Event matchers, tried in order; every one that matches applies."),
        FieldSpec("maxBodyBytes", .integer(minimum: 1), default: "1048576", "Larger bodies get 413."),
        FieldSpec("queueSize", .integer(minimum: 1), default: "1000", "Events waiting at most; more get 503 with Retry-After."),
        FieldSpec("workers", .integer(minimum: 1, maximum: 64), default: "4", "Events processed at once."),
        FieldSpec("timeout", .number(minimum: 0.001), default: "90", "Seconds one event may take, retries included."),
        FieldSpec("retry", webhookRetry, "Refetch retries."),
        FieldSpec("register", webhookRegistration, "Register this webhook at the third party on start."),
    ]))

    static let scrubRule = SpecType.object(ObjectSpec(
        "A field `tide record` replaces with a made-up value in what it writes. Give key or path.", fields: [
        FieldSpec("key", .string(), "Every object member with this name, at any depth of request and response bodies (emailAddress, login)."),
        FieldSpec("path", jq, "jq path over each response body giving the values to replace (.values[].owner.name)."),
    ], exactlyOneOf: ["key", "path"]))

    static let record = SpecType.object(ObjectSpec(
        "How `tide record` turns a live run into fixtures and a test case: how much it reads, and which fields it replaces with made-up values besides secrets.", fields: [
        FieldSpec("pages", .integer(minimum: 1, maximum: 100), default: "2", "Pages kept per pagination run (per kind, parent record or partition); --pages overrides it."),
        FieldSpec("scrub", .array(scrubRule), "Fields replaced, besides the built-in ones, with the same made-up value wherever one value appears."),
        FieldSpec("defaults", .boolean, default: "true",
                  "Whether the built-in rules apply too: e-mail addresses anywhere, and members named like personal data (email, displayName, avatarUrl(s), phone, firstName, lastName, fullName and their snake_case forms)."),
    ]))

    /// The whole file.
    public static let root = SpecType.object(ObjectSpec("A Tide integration.", fields: [
        FieldSpec("name", .string(), required: true, "Integration type, as Ocean's OCEAN__INTEGRATION__TYPE."),
        FieldSpec("title", .string(), "Display name."),
        FieldSpec("description", .string(), "What it brings into the catalog."),
        FieldSpec("icon", .string(), "Port icon name."),
        FieldSpec("version", .string(), default: "\"0.1.0\"", "Integration version (part of Port's datasource)."),
        FieldSpec("configuration", .array(configurationField), "Installation settings."),
        FieldSpec("http", http, required: true, "The API."),
        FieldSpec("kinds", .map(kind), required: true, "Kinds of records, by name."),
        FieldSpec("webhooks", .array(webhook), "Live events: endpoints that verify, match and apply third-party events."),
        FieldSpec("record", record, "Settings of `tide record`, which runs the integration once against the live API and writes fixtures and a test case."),
    ]))
}
