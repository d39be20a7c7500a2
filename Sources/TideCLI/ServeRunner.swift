import ArgumentParser
import Foundation
import Logging
import TideEngine
import TideIntegration
import TideMapping
import TideModel
import TideWebhooks

extension EventListenerType: ExpressibleByArgument {}

/// `tide run` with an event listener other than ONCE: the webhook server, resyncs on the
/// listener's schedule, and a clean drain on SIGTERM.
enum ServeRunner {
    /// The listener `tide run` uses: the flag, else `OCEAN__EVENT_LISTENER`'s type, else ONCE.
    static func listener(flag: EventListenerType?, environment: [String: String]) -> EventListenerType {
        flag ?? EventListenerType.fromEnvironment(environment) ?? .once
    }

    /// `HOST:PORT`, `:PORT` or `PORT`; default 0.0.0.0 and `APPLICATION__PORT` (8000).
    static func address(_ text: String?, environment: [String: String]) throws(ValidationError) -> (host: String, port: Int) {
        let fallbackPort = environment["APPLICATION__PORT"].flatMap(Int.init) ?? 8000
        guard let text, !text.isEmpty else { return ("0.0.0.0", fallbackPort) }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        let host = parts.count > 1 ? String(parts[0]) : "0.0.0.0"
        guard let port = Int(parts.last ?? ""), (0...65535).contains(port) else {
            throw ValidationError("--listen takes HOST:PORT, got \"\(text)\"")
        }
        return (host.isEmpty ? "0.0.0.0" : host, port)
    }

    /// The server's safety settings: flags first, then the environment.
    struct Options: Sendable {
        /// `--allow-unsigned-webhooks`, `TIDE_ALLOW_UNSIGNED_WEBHOOKS=true`.
        var allowUnsignedWebhooks = false
        /// `--control-token`, `TIDE_CONTROL_TOKEN`.
        var controlToken: String?
        /// `--max-connections`, `TIDE_MAX_CONNECTIONS`.
        var maxConnections: Int?

        func resolved(environment: [String: String]) throws(ValidationError) -> Options {
            var options = self
            if !allowUnsignedWebhooks, let text = environment["TIDE_ALLOW_UNSIGNED_WEBHOOKS"] {
                switch text.trimmingCharacters(in: .whitespaces).lowercased() {
                case "true", "1", "yes": options.allowUnsignedWebhooks = true
                case "false", "0", "no", "": break
                default: throw ValidationError("TIDE_ALLOW_UNSIGNED_WEBHOOKS takes true or false")
                }
            }
            if options.controlToken?.isEmpty ?? true {
                options.controlToken = environment["TIDE_CONTROL_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            }
            if options.maxConnections == nil, let text = environment["TIDE_MAX_CONNECTIONS"] {
                guard let value = Int(text) else { throw ValidationError("TIDE_MAX_CONNECTIONS takes a number") }
                options.maxConnections = value
            }
            if let value = options.maxConnections, value < 1 {
                throw ValidationError("the connection cap takes a number of connections, 1 or more; got \(value)")
            }
            return options
        }
    }

    static func serve(integration: Integration, mapping: PortAppConfig, configuration: ResolvedConfiguration, sink: any EntitySink,
                      mappingOptions: MappingOptions, listener: EventListenerType, listen: String?, secrets: SecretBox,
                      options: Options = Options(),
                      resyncRequested: (@Sendable () async -> Bool)? = nil,
                      resync: @escaping ResyncController.Run) async throws {
        let environment = ProcessInfo.processInfo.environment
        let (host, port) = try address(listen, environment: environment)
        let options = try options.resolved(environment: environment)
        if let token = options.controlToken { secrets.add([token]) }
        let logger = Logger(label: "tide.live")
        var settings = LiveSettings(
            host: host, port: port, listener: listener,
            pollingInterval: EventListenerType.pollingInterval(environment),
            scheduledInterval: environment["OCEAN__SCHEDULED_RESYNC_INTERVAL"].flatMap(Double.init).map { $0 * 60 },
            baseURL: environment["OCEAN__BASE_URL"])
        settings.resyncRequested = resyncRequested
        settings.allowUnsignedWebhooks = options.allowUnsignedWebhooks
        settings.controlToken = options.controlToken
        if let cap = options.maxConnections { settings.limits.maxConnections = cap }
        if integration.webhooks.isEmpty { logger.info("\(integration.name) declares no webhooks; only resyncs run") }
        let service: LiveService
        do {
            service = try LiveService(integration: integration, mapping: mapping, configuration: configuration, sink: sink,
                                      mappingOptions: mappingOptions, settings: settings,
                                      log: { level, line in
                                          let text = secrets.redact(line)
                                          switch level {
                                          case .info: logger.info("\(text)")
                                          case .warning: logger.warning("\(text)")
                                          case .error: logger.error("\(text)")
                                          }
                                      }, resync: resync)
        } catch {
            Terminal.error(error.description)
            throw ExitCode(2)
        }
        // Signals are turned into a stream so the drain runs in this task, not in a handler.
        let (stops, continuation) = AsyncStream<Int32>.makeStream()
        var sources: [any DispatchSourceSignal] = []
        for number in [SIGTERM, SIGINT] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(number) }
            source.resume()
            sources.append(source)
        }
        defer { for source in sources { source.cancel() } }
        do { try await service.start() } catch {
            Terminal.error("cannot listen on \(host):\(port): \(error)")
            throw ExitCode(2)
        }
        var iterator = stops.makeAsyncIterator()
        let number = await iterator.next()
        logger.info("signal \(number ?? 0): draining queued events, then exiting")
        await service.shutdown()
        logger.info("stopped")
    }
}

/// Resyncs run by the listener report nothing to the terminal but their outcome.
struct QuietObserver: ResyncObserver {
    func kindStarted(_ progress: KindProgress) {}
    func pageWritten(_ progress: KindProgress) {}
    func kindFinished(_ progress: KindProgress) {}
    func note(_ message: String) { Terminal.error(message) }
}
