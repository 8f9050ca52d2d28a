import BhattiAPI
import BhattiCore
public import BhattiEngine
public import BhattiHTTP
import BhattiStore
import BhattiSystem
import Foundation

/// The composition root: store, engine, service, API, listeners.
public final class Daemon: Sendable {
    public let configuration: DaemonConfiguration
    public let service: SandboxService
    public let engine: Engine
    public let server: HTTPServer
    public let adminKey: String
    /// Per-user networks, when `network` is on.
    public var network: NetworkManager? { service.network }
    public let users: UserDirectory
    public let socketPath: String
    /// The bound TCP port (useful with `--listen 127.0.0.1:0`).
    public let tcpPort: Int?
    /// The public preview proxy and its bound port, when `proxy_listen` is set.
    public let proxyServer: HTTPServer?
    public let proxyPort: Int?
    private let proxyTLS: TLSTerminator?
    /// The E2B API's sandbox timeouts (destroys at the deadline).
    private let e2bDeadlines: E2BDeadlines
    /// Recent metrics of E2B sandboxes, sampled while they are hot.
    private let e2bMetrics: E2BMetrics
    private let e2bWatchers: E2BWatchers
    /// Commands started through E2B's envd, owned past their requests.
    private let e2bProcesses: E2BProcesses
    private let log: Logger
    private let events: Task<Void, Never>

    /// Starts everything; returns once the API is listening. `clock` drives what runs on time: the
    /// idle tiers and the rate limits' refill (tests hand in a `ManualClock` they move).
    public static func start(
        _ config: DaemonConfiguration, log: Logger = Logger(), clock: any Clock<Duration> = ContinuousClock()
    ) async throws -> Daemon {
        let data = config.dataDirectory
        let time = TimeLine(clock)
        let rateLimitClock: @Sendable () -> Duration = { time.now }
        // Everything the daemon and its QEMUs create (RAM files, disks, device state, logs, sockets,
        // snapshots) is for root alone: no file under the data directory is readable by others.
        umask(0o077)
        do {
            try FileManager.default.createDirectory(atPath: data + "/sandboxes", withIntermediateDirectories: true)
            chmod(data, 0o700)
        } catch { throw BhattiError(.internal, "cannot create data directory \(data)", cause: error) }
        let probe = try AcceleratorProbe.decide(config.accelerator, facts: .current())
        log.info("daemon.accelerator", ["accel": probe.accelerator.rawValue, "reason": probe.reason])
        var engineConfiguration = EngineConfiguration(
            dataDirectory: data, accelerator: probe,
            bootTimeout: .seconds(config.bootTimeoutSeconds))
        engineConfiguration.vmmUser = config.vmmUser.isEmpty ? nil : config.vmmUser
        let engine = try Engine(configuration: engineConfiguration)
        let store = try SandboxStore(path: data + "/state.db")
        let network =
            config.network
            ? try NetworkManager(
                dataDirectory: data, pool: config.networkPool, upstreams: ResolvConf.nameServers(file: config.resolvConf),
                allowPrivateEgress: config.allowPrivateEgress) : nil
        let images = ImageRegistry(
            dataDirectory: data, configuredDirectory: config.resolvedImageDirectory, defaultName: config.defaultImage, store: store,
            log: log)
        let service = SandboxService(
            store: store, engine: engine, log: log, policy: try config.thermalPolicy, network: network, images: images,
            defaultIOLimits: config.ioLimits, clock: clock)
        // Adopt first; what is left running after that belongs to no sandbox we know.
        try await service.recoverAfterRestart()
        let orphans = await engine.reapOrphans()
        if orphans > 0 { log.warning("daemon.orphans_killed", ["count": String(orphans)]) }
        // Then their files, and any a crash left without a record (each is logged by name).
        try await service.reclaimOrphans()
        // Only now is every VM directory that names an image's files known (pins nothing names go).
        await images.collectBases()
        if let network {
            // Namespaces of users who no longer have sandboxes (a crash between the last destroy and its cleanup).
            let removed = await network.removeAll(except: try await store.netIndexesInUse())
            if removed > 0 { log.warning("daemon.orphan_networks_removed", ["count": String(removed)]) }
            await service.resumeNetworks()
        }

        let (key, created) = try AdminKey.loadOrCreate(dataDirectory: data)
        let socketPath = data + "/api.sock"
        if created {
            log.info("daemon.admin_key_created", ["path": data + "/admin.key"])
        }
        let users = try await UserDirectory.load(store: store, adminKey: key, adminKeyPath: data + "/admin.key")
        let secrets = try SecretBox.open(dataDirectory: data, store: store)
        let gate = Gate(users: users, limits: config.rateLimits, events: service.events, clock: rateLimitClock)
        if config.writeClientConfig, let path = AdminKey.writeClientConfigIfAbsent(url: "unix://" + socketPath, key: key) {
            log.info("daemon.client_config_written", ["path": path])
        }
        // The public proxy first: the API's preview URLs name its bound port.
        var previews = PreviewURLs(base: nil, zone: config.proxyZone)
        var proxyServer: HTTPServer?
        var proxyPort: Int?
        var terminator: TLSTerminator?
        if let (host, p) = try config.proxyAddress() {
            let server = HTTPServer(
                handler: PublicProxy(service: service, zone: config.proxyZone, limits: config.proxyRateLimits, clock: rateLimitClock),
                limits: HTTPLimits(writeTimeoutMilliseconds: config.clientWriteTimeoutSeconds * 1000))
            let bound: Int
            let address = "\(host.contains(":") ? "[\(host)]" : host):\(p)"
            if let certificate = config.proxyTLSCertificate, let key = config.proxyTLSKey {
                // HTTPS only: the terminator owns the port and hands the server plain connections.
                let tls: TLSTerminator
                do {
                    tls = try TLSTerminator(certificateChain: certificate, privateKey: key)
                } catch {
                    throw BhattiError(.invalidArgument, "public proxy TLS: \(error)", cause: error)
                }
                bound = try ListenError.opening(address, for: .publicProxy) { () throws(Errno) in
                    try tls.listen(host: host, port: p, into: server)
                }
                terminator = tls
            } else {
                bound = try ListenError.opening(address, for: .publicProxy) { () throws(Errno) in try server.listen(host: host, port: p) }
            }
            proxyPort = bound
            proxyServer = server
            let shown = ["0.0.0.0", "::"].contains(host) ? ProcessInfo.processInfo.hostName : host
            let scheme = terminator == nil ? "http" : "https"
            previews.base = config.proxyURL ?? "\(scheme)://\(shown.contains(":") ? "[\(shown)]" : shown):\(bound)"
            log.info("daemon.proxy_listening", ["tcp": "\(host):\(bound)", "urls": previews.base ?? ""])
        }
        let started = Date()
        var handler = APIHandler(
            service: service, gate: gate, secrets: secrets, previews: previews,
            health: {
                HealthDTO(
                    status: "ok", version: APIVersion.server, accelerator: probe.accelerator.rawValue,
                    acceleratorReason: probe.reason, uptimeSeconds: Date().timeIntervalSince(started))
            }, log: log)
        let tokens = try EnvdTokens.load(dataDirectory: data)
        let spool = try UploadSpool.open(dataDirectory: data)
        let processes = E2BProcesses()
        let watchers = E2BWatchers()
        let metrics = E2BMetrics(service: service, time: time, log: log)
        // A new E2B sandbox is hot before it is recorded as one; its deadline follows the record.
        let deadlines = E2BDeadlines(time: time, store: store, scheduled: { _ in metrics.kick() }) { ref in
            await E2BControlPlane.timedOut(ref, service: service, log: log)
        }
        // Deadlines of E2B sandboxes from before a restart (one that passed meanwhile fires now).
        try await deadlines.restore()
        handler.e2b = E2BHandler(
            controlPlane: E2BControlPlane(
                service: service, tokens: tokens, deadlines: deadlines, gate: gate, metrics: metrics, domain: previews.e2bDomain),
            envd: E2BEnvd(service: service, tokens: tokens, processes: processes, watchers: watchers, spool: spool, gate: gate),
            gate: gate)
        // File uploads may be larger than the 1 MiB every other body is held to.
        // Only `/v1/sandboxes/{id}/files`: a proxied path that happens to end in /files is not one.
        let isUpload: @Sendable (String, String) -> Bool = { method, path in
            method == "PUT" && path.hasSuffix("/files") && path.split(separator: "/").count == 4
        }
        // envd's uploads, that path exactly. Chunked ones stream too (the SDK sends an iterator's data
        // chunked): the handler spools a body whose size it does not know; the native PUT refuses one.
        let isEnvdUpload: @Sendable (String, String) -> Bool = { method, path in method == "POST" && path == "/e2b/envd/files" }
        // Image imports (`POST /v1/images/{name}/import`) stream to a file, up to `max_import_bytes`.
        let isImport: @Sendable (String, String) -> Bool = { method, path in
            method == "POST"
                && APIRoute.match(method: method, path: path).route.map { if case .importImage = $0 { true } else { false } } ?? false
        }
        let maxImport = config.maxImportBytes
        let limits = HTTPLimits(
            writeTimeoutMilliseconds: config.clientWriteTimeoutSeconds * 1000,
            routeBodyLimit: { isUpload($0, $1) || isEnvdUpload($0, $1) ? FileHandlers.maxUpload : isImport($0, $1) ? maxImport : nil },
            streamsBody: { isUpload($0, $1) || isEnvdUpload($0, $1) || isImport($0, $1) },
            streamsChunkedBody: isEnvdUpload)
        let server = HTTPServer(handler: handler, limits: limits)
        var port: Int?
        var tcp = "off"
        // Started here, where a failure to listen stops it again.
        await metrics.start()
        do {
            try ListenError.opening(socketPath, for: .apiSocket) { () throws(Errno) in try server.listen(unixPath: socketPath, mode: 0o600)
            }
            if let (host, p) = try config.listenAddress() {
                let bound = try ListenError.opening("\(host.contains(":") ? "[\(host)]" : host):\(p)", for: .apiTCP) { () throws(Errno) in
                    try server.listen(host: host, port: p)
                }
                port = bound
                tcp = "\(host):\(bound)"
            }
        } catch {
            // The proxy already listens: a daemon that failed to start must not keep serving it.
            terminator?.stop()
            proxyServer?.shutdown()
            server.shutdown()
            await deadlines.stop()
            await metrics.stop()
            await watchers.stop()
            throw error
        }
        log.info("daemon.listening", ["unix": socketPath, "tcp": tcp])
        return Daemon(
            config: config, service: service, engine: engine, server: server, proxy: proxyServer, proxyPort: proxyPort, tls: terminator,
            key: key, users: users,
            socket: socketPath, port: port, deadlines: deadlines, metrics: metrics, processes: processes, watchers: watchers, log: log)
    }

    private init(
        config: DaemonConfiguration, service: SandboxService, engine: Engine, server: HTTPServer, proxy: HTTPServer?, proxyPort: Int?,
        tls: TLSTerminator?, key: String,
        users: UserDirectory, socket: String, port: Int?, deadlines: E2BDeadlines, metrics: E2BMetrics, processes: E2BProcesses,
        watchers: E2BWatchers, log: Logger
    ) {
        e2bDeadlines = deadlines
        e2bMetrics = metrics
        e2bProcesses = processes
        e2bWatchers = watchers
        proxyServer = proxy
        proxyTLS = tls
        self.proxyPort = proxyPort
        configuration = config
        self.service = service
        self.engine = engine
        self.server = server
        adminKey = key
        self.users = users
        socketPath = socket
        tcpPort = port
        self.log = log
        // Engine events (a QEMU that died on its own) become sandbox state. Lives as long as the daemon.
        events = Task {
            for await event in engine.events {
                switch event {
                case .vmmExited(let id, let termination, let log):
                    await service.vmDied(id: id, termination: termination, log: log)
                case .timerMiscalibrated(let id, let mult, let attempt):
                    log.warning("vm.timer_miscalibrated", ["sandbox.id": id, "mult": String(mult), "attempt": String(attempt)])
                }
            }
        }
    }

    /// Stops listening, stops every VM, records what happened.
    public func stop() async {
        proxyTLS?.stop()
        async let proxyDrained: Void = { await self.proxyServer?.shutdown(gracePeriod: .seconds(5)) }()
        await server.shutdown(gracePeriod: .seconds(5))
        await proxyDrained
        // No timeout destroys from here on (one under way ends first).
        await e2bDeadlines.stop()
        await e2bMetrics.stop()
        await e2bProcesses.stop()
        await e2bWatchers.stop()
        // No new template VMs from here on; one booting now ends with the engine's shutdown below.
        await service.cancelBackgroundWork()
        // Every running sandbox goes to disk first: the next start finds it cold, memory intact.
        await service.snapshotAllForShutdown()
        let running = await service.allSandboxes()
        await engine.shutdown()
        await service.backgroundWorkEnded()
        for r in running where r.state == .hot || r.state == .warm || r.state == .creating {
            await service.vmLost(id: r.id.rawValue, reason: "the daemon stopped and could not snapshot this sandbox; its VM was shut down")
        }
        network?.dns.close()
        // The engine's stream has finished with its shutdown, so this ends at once.
        events.cancel()
        await events.value
        await service.events.close()
        log.info("daemon.stopped")
    }

    /// `bhatti serve`: start, then run until SIGTERM/SIGINT, then stop every VM cleanly.
    public static func serve(_ config: DaemonConfiguration) async throws {
        let log = Logger()
        // Catch the signals before anything starts, so an early Ctrl+C still shuts down cleanly.
        let term = try Signals.pipe(for: SIGTERM)
        let int = try Signals.pipe(for: SIGINT)
        let daemon = try await start(config, log: log)
        let signal = try await Blocking.run(name: "signals") { () throws -> Int32 in
            while true {
                let ready = try Signals.waitReadable([term, int])
                if let byte = try ready.read(upTo: 1).first { return Int32(byte) }
            }
        }
        log.info("daemon.signal", ["signal": String(signal)])
        await daemon.stop()
    }
}
