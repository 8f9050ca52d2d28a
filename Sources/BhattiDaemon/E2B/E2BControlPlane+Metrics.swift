import BhattiCore
import BhattiE2B
import BhattiHTTP
import BhattiStore

/// `GET /sandboxes/{id}/metrics` (the SDK's `get_metrics`): the samples `E2BMetrics` kept within
/// `start`…`end` (Unix seconds, each optional), oldest first.
extension E2BControlPlane {
    func sandboxMetrics(_ request: HTTPRequest, _ ref: SandboxRef) async throws -> HTTPResponse {
        let window: MetricsWindow
        do { window = try MetricsWindow(start: request.queryValue("start"), end: request.queryValue("end")) } catch {
            throw E2BError(400, "\(error)")
        }
        let record = try await service.get(ref)
        let answer = await metrics.samples(of: record)
            .filter { window.contains(unixSeconds: $0.reading.unixSeconds) }
            .map { SandboxMetric($0, cpus: record.cpus) }
        return HTTPResponse.json(status: 200, bytes: ControlPlaneJSON.encode(answer))
    }
}

extension SandboxMetric {
    init(_ sample: MetricSample, cpus: Int) {
        let r = sample.reading
        let seconds = r.unixSeconds
        self.init(
            timestamp: Timestamp(seconds: seconds, nanos: Int32(r.unixMilliseconds - seconds * 1000) * 1_000_000), cpuCount: cpus,
            cpuUsedPct: sample.cpuUsedPercent,
            memUsed: r.memUsed, memTotal: r.memTotal, memCache: r.memCache, diskUsed: r.diskUsed, diskTotal: r.diskTotal)
    }
}
