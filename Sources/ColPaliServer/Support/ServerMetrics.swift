import ColPaliSearch
import Hummingbird
import Prometheus

/// The server's Prometheus metrics, in a registry of its own (no global
/// metrics bootstrap, so that several servers, or tests, can live in one
/// process).
public final class ServerMetrics: Sendable {
    public let registry = PrometheusCollectorRegistry()

    /// Latency buckets from 1 ms to 30 s: searches are tens of
    /// milliseconds, question embedding and maps seconds.
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2.5), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5), .seconds(10),
        .seconds(30),
    ]

    static var requestDuration: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "colpali", subsystem: "http", metricName: "request_duration", unitName: "seconds",
        helpText: "HTTP requests by route pattern, method and status.") }
    static var stageDuration: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "colpali", subsystem: "search", metricName: "stage_duration", unitName: "seconds",
        helpText: "Search stages: embed (the question through the model), search (candidates and exact rerank).") }
    static var queueJobs: MetricNameDescriptor { MetricNameDescriptor(
        namespace: "colpali", subsystem: "ingest_queue", metricName: "jobs", unitName: "total",
        helpText: "Ingest queue jobs by status, read at scrape time.") }

    init() {}

    /// One request: by route pattern (not the raw path, which would make a
    /// series per page id), method and status.
    func recordRequest(route: String, method: String, status: Int, duration: Duration) {
        registry.makeDurationHistogram(descriptor: Self.requestDuration,
                                       labels: [("route", route), ("method", method), ("status", "\(status)")],
                                       buckets: Self.buckets).record(duration)
    }

    /// One stage of a search: embed (the question through the model) or
    /// search (candidates and exact rerank, one statement).
    func recordSearchStage(_ stage: String, duration: Duration) {
        registry.makeDurationHistogram(descriptor: Self.stageDuration, labels: [("stage", stage)],
                                       buckets: Self.buckets).record(duration)
    }

    /// Jobs in the ingest queue by status, read from the database at scrape time.
    func setQueue(_ counts: [IngestJobStatus.State: Int]) {
        for (state, count) in counts {
            registry.makeGauge(descriptor: Self.queueJobs, labels: [("status", state.rawValue)]).set(Int64(count))
        }
    }

    func text() -> String { registry.emitToString() }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}

/// Times every request into `colpali_http_request_duration_seconds`.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let metrics: ServerMetrics

    func handle(_ request: Request, context: ServerContext, next: (Request, ServerContext) async throws -> Response)
        async throws -> Response {
        let started = ContinuousClock.now
        let response = try await next(request, context)
        // endpointPath is the matched pattern ("/v1/pages/{id}"); unmatched paths share one label.
        metrics.recordRequest(route: context.endpointPath ?? "unmatched", method: request.method.rawValue,
                              status: response.status.code, duration: ContinuousClock.now - started)
        return response
    }
}
