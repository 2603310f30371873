/// `facet serve`: a gallery of a project's faces in the browser (Hummingbird 2), live over the project file.
import Foundation
import FacetCore
import FacetCurate
import FacetMedia
import FacetProjectMedia
import FacetStore
import Hummingbird

/// Decodes the source frame `frameIndex` of a media, for the face page: `Gallery.storedMediaFrame`
/// (what `facet serve` passes), or a stand-in in tests. Nil: the face page says the frame cannot be shown.
public typealias SourceFrameDecoder = @Sendable (_ project: Project, _ media: MediaRecord,
                                                 _ frameIndex: Int) throws -> Image

/// The gallery: pages of thumbnails for a role, sortable by every signature, filterable by status and
/// tag; a face page; reject/restore by POST with a CSRF token. Reads the file live (WAL), so it can
/// stay open while extraction or training writes. Every value is HTML-escaped; the only files served
/// are face crops and decoded frames, by face id.
public final class Gallery: Sendable {
    /// The project it serves, read live.
    public let project: Project
    /// A fresh random token per server: every state-changing POST must carry it.
    public let csrfToken: String
    let sourceFrame: SourceFrameDecoder?
    let orders = OrderCache()
    /// Largest request body accepted (form posts are a few dozen bytes).
    public static let maxBodyBytes = 4096
    /// The page sizes a user may pick (`per`).
    public static let pageSizes = [50, 100, 200, 500]
    /// Requests handled at once; more are answered 503 (a browser opens about 6 connections a host).
    let inFlight: InFlightLimit
    /// Where handlers do their blocking work (SQLite, image coding, plots), so it never holds one of
    /// the cooperative pool's threads, which also run the server.
    let pageWork: BlockingLane
    /// Source frames (each decodes its video from the start, up to seconds) on a lane of their own:
    /// a face page opened while frames decode still gets its threads.
    let frameWork: BlockingLane
    /// Threads of the two lanes.
    public static let pageThreads = 4, frameThreads = 2

    /// Frames decoded from the project's stored (or linked) media, reading the video from its start
    /// (`MediaFrames.image(ofFrame:media:in:)`).
    public static let storedMediaFrame: SourceFrameDecoder = { project, media, index in
        try MediaFrames.image(ofFrame: index, media: media, in: project)
    }

    /// A gallery over `project`; `sourceFrame` decodes the frames the face page shows.
    public init(project: Project, sourceFrame: SourceFrameDecoder? = nil, maxConcurrentRequests: Int = 32) {
        self.project = project
        self.sourceFrame = sourceFrame
        self.inFlight = InFlightLimit(limit: max(1, maxConcurrentRequests))
        self.pageWork = BlockingLane(name: "facet-serve-page", width: Self.pageThreads)
        self.frameWork = BlockingLane(name: "facet-serve-frame", width: Self.frameThreads)
        var bytes = [UInt8](repeating: 0, count: 24)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = rng.next() }
        self.csrfToken = bytes.map { String(format: "%02x", $0) }.joined()
    }

    /// Serves until cancelled. `onRunning` receives the bound port (useful with port 0).
    public func run(host: String = "127.0.0.1", port: Int = 8080,
                    onRunning: (@Sendable (Int) async -> Void)? = nil) async throws {
        let app = Application(
            router: router(servingOn: host),
            configuration: .init(address: .hostname(host, port: port), serverName: "facet"),
            onServerRunning: { channel in await onRunning?(channel.localAddress?.port ?? port) })
        try await app.run()
    }

    /// The routes. Anything else is 404: no route maps a path to a file. Every route first checks
    /// the Host header against the address served on (`GalleryHostPolicy`) and the requests in flight.
    public func router(servingOn host: String = "127.0.0.1") -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: HostCheckMiddleware(policy: GalleryHostPolicy(servingOn: host)))
        router.add(middleware: ConcurrencyLimitMiddleware(inFlight: inFlight))
        router.get("/") { _, _ in Response(status: .seeOther, headers: [.location: "/faces?role=src"]) }
        router.get("/faces") { req, _ in try await self.respond { try self.galleryPage(Self.params(req)) } }
        router.get("/face/:id") { req, ctx in
            try await self.respond { try self.facePage(try self.id(ctx), similarBy: Self.params(req)["similar"]) }
        }
        router.get("/people") { req, _ in try await self.respond { try self.peoplePage(Self.params(req)) } }
        router.post("/person/:id/name") { req, ctx in
            let form = try await self.form(req)
            return try await self.respond { try self.namePerson(try self.id(ctx), form: form, request: req) }
        }
        router.get("/crop/:id") { _, ctx in try await self.respond { try self.crop(try self.id(ctx)) } }
        router.get("/frame/:id") {
            _, ctx in try await self.respond(on: self.frameWork) { try self.frame(try self.id(ctx)) }
        }
        router.get("/counts") { req, _ in try await self.respond { try self.countsJSON(Self.params(req)) } }
        router.post("/face/:id/status") { req, ctx in
            let form = try await self.form(req)
            return try await self.respond { try self.setStatus(try self.id(ctx), form: form, request: req) }
        }
        router.post("/undo") { req, _ in
            let form = try await self.form(req)
            return try await self.respond { try self.undo(form: form, request: req) }
        }
        addModelRoutes(to: router)
        addMaskRoutes(to: router)
        addPredictedMaskRoutes(to: router)
        addMergeRoutes(to: router)
        return router
    }
}

/// A header name (HTTPTypes' `HTTPField.Name`, reached through what Hummingbird exports).
typealias FieldName = HTTPFields.Element.Name

/// An error with the HTTP status it answers with.
struct GalleryError: Error {
    let status: HTTPResponse.Status
    let message: String
    init(_ status: HTTPResponse.Status, _ message: String) { self.status = status; self.message = message }
}
