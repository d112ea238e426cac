import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import StreamKitObservability
import StreamKit

/// The routes of the control API (`/api/v1`, see `openapi.json`), the open health routes, the
/// OpenAPI document and the status page.
enum APIRoutes {
    static func router(plane: ControlPlane, tokens: AccessTokens, metrics: PrometheusCollectorRegistry?, logger: Logger) -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: APIErrorMiddleware(logger: logger))
        router.add(middleware: BearerAuthMiddleware(tokens: tokens))

        router.get("/healthz") { _, _ in JSONResponse(Health(status: "ok")) }
        router.get("/readyz") { _, _ -> Response in
            let ready = plane.isReady
            let body = try JSONEncoder().encode(Health(status: ready ? "ready" : "starting"))
            return Response(status: ready ? .ok : .serviceUnavailable, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        let openapi = ServerResources.openAPIDocument
        router.get("/openapi.json") { _, _ in RawJSONResponse(bytes: openapi) }
        router.get("/api/v1/openapi.json") { _, _ in RawJSONResponse(bytes: openapi) }
        let page = ServerResources.statusPage
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(bytes: page)))
        }
        router.get("/metrics") { _, _ -> Response in
            let bytes = metrics.map { PrometheusEndpoint.exposition($0, help: MetricCatalog.help) } ?? []
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }

        let api = router.group("api/v1")
        // Sources.
        api.post("sources") { request, _ in
            JSONResponse(try await plane.createSource(try await RequestBody.decode(SourceSpec.self, from: request)), status: .created)
        }
        api.get("sources") { _, _ in JSONResponse(try await plane.listSources()) }
        api.get("sources/:id") { _, context in JSONResponse(try await plane.source(try context.parameters.require("id"))) }
        api.delete("sources/:id") { request, context -> Response in
            let drop = request.uri.queryParameters.get("drop_slot")
            guard drop == nil || drop == "true" || drop == "false" else { throw ServerError.invalid("drop_slot", "must be true or false") }
            try await plane.deleteSource(try context.parameters.require("id"), dropSlot: drop == "true")
            return Response(status: .noContent)
        }
        api.post("sources/:id/start") { _, context in JSONResponse(try await plane.startSource(try context.parameters.require("id"))) }
        api.post("sources/:id/stop") { _, context in JSONResponse(try await plane.stopSource(try context.parameters.require("id"))) }
        api.get("sources/:id/status") { _, context in JSONResponse(try await plane.sourceStatus(try context.parameters.require("id"))) }

        api.post("sources/:id/replay") { request, context in
            let id = try context.parameters.require("id")
            return JSONResponse(try await plane.createReplay(sourceID: id, try await RequestBody.decode(ReplaySpec.self, from: request)), status: .accepted)
        }
        api.get("replays/:id") { _, context in JSONResponse(try await plane.replay(try context.parameters.require("id"))) }

        // Jobs.
        api.get("jobs") { _, _ in JSONResponse(try await plane.listJobs()) }
        api.post("jobs") { request, _ in
            JSONResponse(try await plane.createJob(try await RequestBody.decode(JobSpec.self, from: request)), status: .created)
        }
        api.get("jobs/:id") { _, context in JSONResponse(try await plane.job(try context.parameters.require("id"))) }
        api.post("jobs/:id/stop") { _, context in JSONResponse(try await plane.stopJob(try context.parameters.require("id"))) }
        api.post("jobs/:id/savepoint") { _, context in JSONResponse(try await plane.savepoint(try context.parameters.require("id"))) }

        // Consumers (subscriptions).
        api.post("consumers") { request, _ in
            JSONResponse(try await plane.createConsumer(try await RequestBody.decode(ConsumerSpec.self, from: request)), status: .created)
        }
        api.get("consumers") { _, _ in JSONResponse(try await plane.listConsumers()) }
        api.delete("consumers/:id") { _, context -> Response in
            try await plane.deleteConsumer(try context.parameters.require("id"))
            return Response(status: .noContent)
        }

        // Models: the registry (versions, lineage, aliases, live metrics); promote and rollback
        // are the `cdc-features models` operations, each with its model-events record.
        api.get("models") { _, _ in JSONResponse(try await plane.models.list()) }
        api.get("models/:name") { _, context in JSONResponse(try await plane.models.model(try context.parameters.require("name"))) }
        api.post("models/:name/promote") { request, context in
            let body = try await RequestBody.decode(ModelPromotion.self, from: request)
            return JSONResponse(try await plane.models.promote(try context.parameters.require("name"), body))
        }
        api.post("models/:name/rollback") { request, context in
            let body = try await RequestBody.decodeIfPresent(ModelRollback.self, from: request) ?? ModelRollback()
            return JSONResponse(try await plane.models.rollback(try context.parameters.require("name"), body))
        }

        // Features.
        let features = FeatureLookup(client: plane.features)
        api.get("features/:view/:entity") { request, context -> RawJSONResponse in
            RequestPathScheduling.applyToCurrentThread()
            let view = try context.parameters.require("view"), entity = try context.parameters.require("entity")
            let namespace = try FeatureLookup.namespace(request.uri.queryParameters.get("namespace"))
            guard let bytes = try await features.one(view: view, entity: entity, namespace: namespace) else {
                throw ServerError(.notFound, "no features of '\(entity)' in view '\(view)'")
            }
            return RawJSONResponse(bytes: bytes)
        }
        api.post("features/:view/batch-get") { request, context in
            RequestPathScheduling.applyToCurrentThread()
            let namespace = try FeatureLookup.namespace(request.uri.queryParameters.get("namespace"))
            let body = try await RequestBody.decodeFast(BatchGetRequest.self, from: request)
            return RawJSONResponse(bytes: try await features.batch(view: try context.parameters.require("view"), entities: body.entities,
                                                                   namespace: namespace))
        }
        return router
    }
}
