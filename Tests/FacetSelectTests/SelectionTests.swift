/// Model selection over a real project: two short `tiny` runs on faces of the sample videos, listed, compared, plotted, pruned and exported.
import XCTest
import FacetCore
import FacetMedia
import FacetPlot
import FacetSelect
import FacetStore
import FacetTrain
import FacetVision

final class SelectionTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("Fixtures").path
    /// The project made once for the class: models "a" (batch 4) and "b" (batch 6), both seed 1 so
    /// they hold out the same faces, checkpoints at iterations 4, 8 and 12.
    nonisolated(unsafe) static var fixturePath: String?
    nonisolated(unsafe) static var fixtureError: Error?
    static let saveAt = [4, 8, 12]

    var dir: String!

    override class func setUp() {
        super.setUp()
        do { fixturePath = try makeFixture() } catch { fixtureError = error }
    }

    override class func tearDown() {
        if let p = fixturePath { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) }
        super.tearDown()
    }

    override func setUpWithError() throws {
        if let e = Self.fixtureError { throw e }
        dir = NSTemporaryDirectory() + "facet-select-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { if let dir { try? FileManager.default.removeItem(atPath: dir) } }

    /// A private copy of the fixture project, so tests that write do not disturb the others.
    func project() throws -> Project {
        let path = dir + "/p.facet"
        try FileManager.default.copyItem(atPath: Self.fixturePath!, toPath: path)
        if FileManager.default.fileExists(atPath: Self.fixturePath! + "-wal") {
            try FileManager.default.copyItem(atPath: Self.fixturePath! + "-wal", toPath: path + "-wal")
        }
        return try Project(path: path)
    }

    /// 20 src and 20 dst faces: frames of the sample videos at 5 fps, the face square cropped to a
    /// 256 px "aligned" crop, landmarks on an ellipse (their hull is the training mask).
    static func makeFixture() throws -> String {
        let dir = NSTemporaryDirectory() + "facet-select-fixture-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let path = dir + "/fixture.facet"
        let p = try Project.create(at: path)
        let s = 256.0 / 300.0
        let imageToFace = Affine2D(a: s, b: 0, tx: -90 * s, c: 0, d: s, ty: -60 * s)
        let inv = imageToFace.inverted!
        let landmarks = Landmarks68(points: (0..<68).map { i in
            let t = Double(i) / 68 * 2 * .pi
            return inv.apply(Point2(128 + 72 * cos(t), 140 + 92 * sin(t)))
        })
        for (role, file) in [(Role.src, "src-d18.mp4"), (Role.dst, "dst-d19.mp4")] {
            let media = MediaRecord(role: role, name: file, kind: .video, storage: .linked, path: fixtures + "/video/" + file,
                                    sha256: UUID().uuidString, byteSize: 1, container: "mp4", codec: "h264", width: 480, height: 480,
                                    fps: 25, frameCount: 250, duration: 10, hasAudio: false)
            let mediaId = try p.importMedia(media) { nil }.id!
            let run = try p.beginExtraction(ExtractionProvenance(role: role, detector: "fixed-crop", detectorSHA256: "0", landmarker: "ellipse",
                                                                 landmarkerSHA256: "0", optionsJSON: "{}"))
            var frames: [ExtractedFrame] = []
            let decoder = try VideoDecoder(path: fixtures + "/video/" + file, fps: 5)
            try decoder.forEachFrame { frame in
                let crop = frame.image.warped(by: imageToFace, width: 256, height: 256, border: .replicate)
                frames.append(ExtractedFrame(mediaId: mediaId, frameIndex: frame.index, pts: frame.pts, faces: [
                    NewFace(faceIndex: 0, score: 0.99, box: (120, 100, 240, 280), points5: [], landmarks: landmarks,
                            matrix: imageToFace, faceType: "full", cropSize: 256, cropFormat: "jpeg", crop: try JPEGCodec.encode(crop, quality: 92),
                            histogram: [Float](repeating: 1.0 / 256, count: 768), blur: 10, motionBlur: 10, yaw: 0, pitch: 0, roll: 0,
                            brightness: 128, hue: 20, faceSize: 240),
                ]))
                return frames.count < 20
            }
            try p.storeFrames(frames, extractionId: run, role: role)
        }
        for (name, batch) in [("a", 4), ("b", 6)] {
            let trainer = try Trainer(project: p, options: TrainOptions(architecture: .tiny, name: name, batchSize: batch, seed: 1))
            for target in saveAt {
                while trainer.iteration < target { trainer.step() }
                try trainer.saveCheckpoint()
            }
        }
        try p.close()
        return path
    }

    func testListingOrderAliasesAndTags() throws {
        let p = try project()
        let listing = try listCheckpoints(project: p)
        XCTAssertEqual(listing.models.map(\.name), ["a", "b"])
        XCTAssertEqual(listing.checkpoints.map(\.model), ["a", "a", "a", "b", "b", "b"])
        XCTAssertEqual(listing.checkpoints.map(\.iteration), Self.saveAt + Self.saveAt)
        for m in listing.models {
            let mine = listing.checkpoints.filter { $0.model == m.name }
            let best = mine.min { $0.valLoss! < $1.valLoss! }!
            XCTAssertEqual(m.best, best.id)
            XCTAssertEqual(m.latest, mine.last!.id)
            XCTAssertEqual(try resolveCheckpoint(p, "\(m.name):best").id, best.id)
            XCTAssertEqual(try resolveCheckpoint(p, "latest", model: m.name).id, mine.last!.id)
            XCTAssertEqual(mine.filter { $0.aliases.contains("best") }.map(\.id), [best.id])
            XCTAssertEqual(m.iterations, 12)
            XCTAssertNotNil(m.convergence, "12 iterations are enough to fit")
            for c in mine {
                XCTAssertNotNil(c.lossSrc); XCTAssertNotNil(c.lossDst); XCTAssertNotNil(c.valLoss)
                XCTAssertGreaterThan(c.bytes, 100_000)
                XCTAssertFalse(c.pruned)
            }
        }
        // Aliases need a model when there are two; unknown references are clear errors.
        XCTAssertThrowsError(try resolveCheckpoint(p, "best")) { XCTAssertTrue("\($0)".contains("2 models"), "\($0)") }
        XCTAssertThrowsError(try resolveCheckpoint(p, "9999")) { XCTAssertTrue("\($0)".contains("has no checkpoint 9999"), "\($0)") }
        XCTAssertThrowsError(try resolveCheckpoint(p, "nosuch:best")) { XCTAssertTrue("\($0)".contains("has no model named 'nosuch'"), "\($0)") }
        XCTAssertThrowsError(try resolveCheckpoint(p, "a:zzz")) { XCTAssertTrue("\($0)".contains("no checkpoint 'zzz'"), "\($0)") }

        // A user tag resolves like an alias; names that would be read as something else are refused.
        let first = listing.checkpoints[0]
        XCTAssertEqual(try tagCheckpoint(project: p, reference: String(first.id), tag: "keeper").tags, "keeper")
        XCTAssertEqual(try resolveCheckpoint(p, "a:keeper").id, first.id)
        XCTAssertEqual(try listCheckpoints(project: p, model: "a").checkpoints[0].tags, ["keeper"])
        for bad in ["best", "latest", "12", "x:y", ""] {
            XCTAssertThrowsError(try tagCheckpoint(project: p, reference: String(first.id), tag: bad), "tag '\(bad)'")
        }
        _ = try tagCheckpoint(project: p, reference: "a:keeper", tag: "keeper", remove: true)
        XCTAssertThrowsError(try resolveCheckpoint(p, "a:keeper"))
        XCTAssertThrowsError(try tagCheckpoint(project: p, reference: String(first.id), tag: "keeper", remove: true)) {
            XCTAssertTrue("\($0)".contains("has no tag 'keeper'"), "\($0)")
        }
    }

    func testCompareEvaluatesBothOnTheSameHeldOutFaces() throws {
        let p = try project()
        let a = try p.requireModel(named: "a"), b = try p.requireModel(named: "b")
        let heldA = try p.modelFaces(modelId: a.id!).validation, heldB = try p.modelFaces(modelId: b.id!).validation
        let (c, preview) = try compareCheckpoints(project: p, a: "a:latest", b: "b:latest")
        XCTAssertEqual(c.srcFaces, Set(heldA[.src]!).intersection(heldB[.src]!).sorted())
        XCTAssertEqual(c.dstFaces, Set(heldA[.dst]!).intersection(heldB[.dst]!).sorted())
        XCTAssertFalse(c.srcFaces.isEmpty); XCTAssertFalse(c.dstFaces.isEmpty)
        XCTAssertEqual(c.faceSource, "held out by both models")
        // Both models hold out exactly these faces, so evaluating now must give the held-out loss
        // the trainer stored at the save: the same faces, the same loss.
        for side in [c.a, c.b] {
            XCTAssertEqual(side.iteration, 12)
            XCTAssertEqual(side.evaluated.src!, side.storedValLoss.src!, accuracy: 1e-5 * side.storedValLoss.src!)
            XCTAssertEqual(side.evaluated.dst!, side.storedValLoss.dst!, accuracy: 1e-5 * side.storedValLoss.dst!)
        }
        XCTAssertNotEqual(c.a.evaluated.src, c.b.evaluated.src, "different batch sizes train different weights")
        XCTAssertEqual(c.better, c.a.evaluated.mean! < c.b.evaluated.mean! ? "a" : "b")
        // One row per held-out face pair (at most 4), six 128 px cells per row under a 64 px header.
        let rows = min(4, max(c.srcFaces.count, c.dstFaces.count))
        XCTAssertEqual(preview.width, 6 * 128 + 7 * 4 + 8)
        XCTAssertEqual(preview.height, 64 + rows * 128 + (rows + 1) * 4)
        XCTAssertGreaterThan(Set(preview.pixels).count, 100, "faces, not a blank image")
        try PNGCodec.encode(preview).write(to: URL(fileURLWithPath: NSTemporaryDirectory() + "facet-select-compare.png"))

        // A checkpoint against itself: the same losses, a tie.
        let same = try compareCheckpoints(project: p, a: "a:best", b: "a:best", faces: 1).comparison
        XCTAssertEqual(same.a.evaluated, same.b.evaluated)
        XCTAssertEqual(same.better, "tie")
        XCTAssertEqual(same.srcFaces.count, 1)

        // A model of another resolution: refused before any loading, saying why.
        let big = try p.createModel(ModelRecord(name: "q", architecture: "quick96", resolution: 96, faceType: "full", optionsJson: "{}", seed: 1),
                                    split: ModelFaceSplit())
        let q = try p.saveCheckpoint(NewCheckpoint(modelId: big.id!, iteration: 1, lossSrc: 1, lossDst: 1, valLossSrc: nil, valLossDst: nil,
                                                   trainSeconds: 1, rngState: nil)) { try $0.write(name: "w", kind: .weight, shape: [1], values: [0]) }
        XCTAssertThrowsError(try compareCheckpoints(project: p, a: "a:latest", b: String(q.id))) {
            XCTAssertTrue("\($0)".contains("do not compare"), "\($0)")
        }
        XCTAssertThrowsError(try compareCheckpoints(project: p, a: "a:latest", b: "4242")) { XCTAssertTrue("\($0)".contains("has no checkpoint 4242"), "\($0)") }
    }

    /// FacetTrain's one definition of the held-out loss: every checkpoint evaluated now on its
    /// model's held-out faces gives back the val_loss the trainer stored at its save, however the
    /// faces are batched; on other faces it gives something else.
    func testEvaluatingACheckpointOnItsHeldOutFacesGivesItsStoredValLoss() throws {
        let p = try project()
        for m in try p.models() {
            let held = try p.modelFaces(modelId: m.id!).validation
            let loader = try loadModel(project: p, checkpoint: "latest", model: m.name)
            let src = try loader.loadFaces(held[.src]!, project: p)
            let dst = try loader.loadFaces(held[.dst]!, project: p)
            XCTAssertFalse(src.isEmpty); XCTAssertFalse(dst.isEmpty)
            XCTAssertEqual(src.map(\.faceId), held[.src]!)
            let trained = try loader.loadFaces(Array(try p.modelFaces(modelId: m.id!).train[.src]!.prefix(4)), project: p)
            for c in try p.checkpoints(modelId: m.id!) {
                let model = try loadModel(project: p, checkpoint: String(c.id))
                let storedSrc = try XCTUnwrap(c.valLossSrc), storedDst = try XCTUnwrap(c.valLossDst)
                for chunk in [1, 8] {
                    let now = try model.evaluate(src: src, dst: dst, chunk: chunk)
                    XCTAssertEqual(now.src!, storedSrc, accuracy: 1e-5 * storedSrc, "\(m.name) #\(c.id) chunk \(chunk)")
                    XCTAssertEqual(now.dst!, storedDst, accuracy: 1e-5 * storedDst, "\(m.name) #\(c.id) chunk \(chunk)")
                }
                // Other faces give another loss (so the match above is not a constant), and a role
                // without faces has none.
                let other = try model.evaluate(src: trained, dst: [])
                XCTAssertNil(other.dst)
                XCTAssertGreaterThan(abs(other.src! - storedSrc), 1e-4 * storedSrc)
            }
            // Faces at another resolution are refused, saying why.
            let big = try loadFaceSamples([held[.src]![0]], project: p, resolution: m.resolution * 2)
            XCTAssertThrowsError(try loadModel(project: p, checkpoint: "latest", model: m.name).evaluate(src: big, dst: [])) {
                XCTAssertTrue("\($0)".contains("works at \(m.resolution) px"), "\($0)")
            }
        }
        // compare evaluates by the same definition: two earlier checkpoints of one model.
        let first = try p.checkpoints(modelId: try p.requireModel(named: "b").id!)
        let early = try compareCheckpoints(project: p, a: String(first[0].id), b: String(first[1].id)).comparison
        XCTAssertEqual([early.a.iteration, early.b.iteration], [4, 8])
        for side in [early.a, early.b] {
            XCTAssertEqual(side.evaluated.src!, side.storedValLoss.src!, accuracy: 1e-5 * side.storedValLoss.src!)
            XCTAssertEqual(side.evaluated.dst!, side.storedValLoss.dst!, accuracy: 1e-5 * side.storedValLoss.dst!)
        }
    }

    func testPlotHasTheRightSizeAndShowsBothModels() throws {
        let p = try project()
        let image = try renderLossPlot(project: p, models: ["a", "b"], width: 1000, height: 600)
        XCTAssertEqual(image.width, 1000); XCTAssertEqual(image.height, 600); XCTAssertEqual(image.channels, 3)
        let png = try PNGCodec.encode(image)
        let out = NSTemporaryDirectory() + "facet-select-loss.png"
        try png.write(to: URL(fileURLWithPath: out))
        let back = try PNGCodec.decode(try Data(contentsOf: URL(fileURLWithPath: out)))
        XCTAssertEqual(back.width, 1000); XCTAssertEqual(back.height, 600)
        // Not blank: axes, text and curves of both models' colours (the smoothed src lines).
        var counts: [RGB: Int] = [:]
        for i in 0..<(1000 * 600) { counts[RGB(image.pixels[3 * i], image.pixels[3 * i + 1], image.pixels[3 * i + 2]), default: 0] += 1 }
        XCTAssertLessThan(counts[.white] ?? 0, 1000 * 600 * 985 / 1000)
        XCTAssertGreaterThan(counts[RGB(31, 119, 180)] ?? 0, 200, "model a's colour")
        XCTAssertGreaterThan(counts[RGB(230, 110, 0)] ?? 0, 200, "model b's colour")
        // The log plot is a different picture of the same data.
        XCTAssertNotEqual(try renderLossPlot(project: p, models: ["a", "b"], log: true, width: 1000, height: 600), image)

        let svg = try renderLossPlotSVG(project: p, models: ["b"])
        XCTAssertTrue(svg.contains("<polyline")); XCTAssertTrue(svg.contains(">b src, mean of 1<")); XCTAssertFalse(svg.contains(">a src"))
        XCTAssertThrowsError(try renderLossPlot(project: p, models: ["nosuch"])) { XCTAssertTrue("\($0)".contains("has no model named 'nosuch'"), "\($0)") }
        XCTAssertThrowsError(try renderLossPlot(project: p, width: 10, height: 10))
    }

    /// `--best-by swap` is stored per model, and `best` follows it wherever a checkpoint is named: the listing, the
    /// merge's swapper, compare (which shows both stored scores), export-model and prune's ranking; the other model
    /// keeps the held-out loss, and `val_loss` takes it back.
    func testBestFollowsTheModelsChoiceEverywhere() throws {
        let p = try project()
        let a = try p.requireModel(named: "a")
        let cs = try p.checkpoints(modelId: a.id!)
        XCTAssertEqual(cs.map(\.iteration), [4, 8, 12])
        let byLoss = try resolveCheckpoint(p, "a:best").id
        XCTAssertEqual(byLoss, cs.min { $0.valLoss! < $1.valLoss! }!.id)
        // The first two scored, the earliest best by swap (the latest, unscored, is passed over); as the
        // trainer stores them. Combined: identity (share and distance margin) x (expression + detail) / 2.
        func score(share: Double, toSrc: Double, detail: Double) -> SwapScore {
            SwapScore(faces: 4, missed: 0, identitySrcShare: share, identityToSrc: toSrc, identityToDst: 0.7, landmarks: 0.05,
                      eyesMouth: 0.06, mouthCorrelation: nil, detail: detail, seconds: 1)
        }
        let good = score(share: 1, toSrc: 0.5, detail: 0.3), worse = score(share: 0.5, toSrc: 0.65, detail: 0.3)
        for (c, s) in [(cs[0], good), (cs[1], worse)] {
            try p.storeScores(checkpointId: c.id, CheckpointScores(values: s.metrics, faces: s.faces))
        }
        let combined = try p.scores().mapValues { $0.combined! }
        // (1 + 1) / 2 x ((1 - 0.06 / 0.2) + 0.3) / 2 = 0.5; (0.5 + 0.625) / 2 x 0.5 = 0.28125.
        XCTAssertEqual(combined[cs[0].id]!, 0.5, accuracy: 1e-12)
        XCTAssertEqual(combined[cs[1].id]!, 0.28125, accuracy: 1e-12)
        XCTAssertNotEqual(byLoss, cs[0].id, "the test needs best by loss to be another checkpoint")

        XCTAssertEqual(try p.bestBy(modelId: a.id!), .valLoss)
        try setBestBy(project: p, .swap, model: "a")
        XCTAssertEqual(try p.bestBy(modelId: a.id!), .swap)
        XCTAssertEqual(try resolveCheckpoint(p, "a:best").id, cs[0].id)
        XCTAssertEqual(try resolveCheckpoint(p, "best", model: "a").id, cs[0].id)
        let listing = try listCheckpoints(project: p)
        let ma = try XCTUnwrap(listing.models.first { $0.name == "a" }), mb = try XCTUnwrap(listing.models.first { $0.name == "b" })
        XCTAssertEqual(ma.best, cs[0].id); XCTAssertEqual(ma.bestBy, "swap")
        XCTAssertEqual(mb.bestBy, "val_loss")
        let bCheckpoints = try p.checkpoints(modelId: try p.requireModel(named: "b").id!)
        XCTAssertEqual(mb.best, bCheckpoints.min { $0.valLoss! < $1.valLoss! }!.id)
        XCTAssertEqual(listing.checkpoints.first { $0.id == cs[0].id }?.swap, 0.5)
        XCTAssertEqual(try CheckpointSwapper(project: p, checkpoint: "best", model: "a").checkpointId, cs[0].id)
        let exported = try exportModel(project: p, checkpoint: "a:best", to: dir + "/best.safetensors")
        XCTAssertEqual(exported.checkpoint, cs[0].id)
        let c = try compareCheckpoints(project: p, a: "a:best", b: "a:latest", faces: 1).comparison
        XCTAssertEqual(c.a.id, cs[0].id)
        XCTAssertEqual(c.a.swapScore?.identityToSrc, 0.5); XCTAssertEqual(c.a.swap, 0.5)
        XCTAssertNil(c.b.swapScore); XCTAssertNil(c.b.swap)
        let pruned = try pruneCheckpoints(project: p, model: "a", keepBest: 1, keepLatest: 1, dryRun: true)
        XCTAssertEqual(pruned.kept.filter { $0.reasons.contains("best") }.map(\.id), [cs[0].id])

        try setBestBy(project: p, .valLoss, model: "a")
        XCTAssertEqual(try resolveCheckpoint(p, "a:best").id, byLoss)
        XCTAssertThrowsError(try setBestBy(project: p, .swap, model: "nosuch")) { XCTAssertTrue("\($0)".contains("nosuch"), "\($0)") }
    }

    func testPruneKeepsExactlyBestLatestAndTagged() throws {
        let p = try project()
        let before = try listCheckpoints(project: p)
        let lossRows = try p.models().map { try p.losses(modelId: $0.id!).count }
        let tagged = before.checkpoints.first { $0.model == "b" && !$0.aliases.contains("best") && !$0.aliases.contains("latest") }
        if let t = tagged { try p.tagCheckpoint(id: t.id, tag: "keep") }
        XCTAssertThrowsError(try pruneCheckpoints(project: p, keepBest: 1, keepLatest: 0)) { XCTAssertEqual(($0 as? FacetError)?.setting, "keep-latest", "\($0)") }

        let dry = try pruneCheckpoints(project: p, keepBest: 1, keepLatest: 1, dryRun: true)
        XCTAssertEqual(try listCheckpoints(project: p).checkpoints.filter(\.pruned).count, 0, "a dry run changes nothing")
        let r = try pruneCheckpoints(project: p, keepBest: 1, keepLatest: 1, vacuum: true)
        XCTAssertEqual(dry.pruned, r.pruned)

        var expectedKept: Set<Int64> = []
        for m in before.models { expectedKept.insert(m.best!); expectedKept.insert(m.latest!) }
        if let t = tagged { expectedKept.insert(t.id) }
        XCTAssertEqual(Set(r.kept.map(\.id)), expectedKept)
        XCTAssertEqual(Set(r.pruned), Set(before.checkpoints.map(\.id)).subtracting(expectedKept))
        XCTAssertFalse(r.pruned.isEmpty)
        XCTAssertEqual(r.tensorBytesFreed, before.checkpoints.filter { r.pruned.contains($0.id) }.reduce(0) { $0 + $1.bytes })
        XCTAssertTrue(r.vacuumed)
        XCTAssertLessThan(r.fileBytesAfter, r.fileBytesBefore - r.tensorBytesFreed / 2, "vacuum gives the space back")

        // Rows, losses and previews stay; only tensors go.
        let after = try listCheckpoints(project: p)
        XCTAssertEqual(after.checkpoints.map(\.id), before.checkpoints.map(\.id))
        XCTAssertEqual(try p.models().map { try p.losses(modelId: $0.id!).count }, lossRows)
        for c in after.checkpoints {
            XCTAssertNotNil(try p.preview(checkpointId: c.id))
            if r.pruned.contains(c.id) {
                XCTAssertTrue(c.pruned); XCTAssertEqual(c.bytes, 0)
                XCTAssertEqual(c.valLoss, before.checkpoints.first { $0.id == c.id }!.valLoss)
                XCTAssertThrowsError(try exportModel(project: p, checkpoint: String(c.id), to: dir + "/x.safetensors")) {
                    XCTAssertTrue("\($0)".contains("was pruned"), "\($0)")
                }
            } else {
                XCTAssertFalse(c.pruned)
                // The kept checkpoints still load and swap a face.
                let model = try loadModel(project: p, checkpoint: String(c.id))
                let face = model.swapFace(Image(width: 64, height: 64, channels: 3)).face
                XCTAssertEqual(face.width, 64)
            }
        }
        // Pruning again with the same rule finds nothing more to do.
        let again = try pruneCheckpoints(project: p, keepBest: 1, keepLatest: 1)
        XCTAssertEqual(again.pruned, []); XCTAssertEqual(Set(again.alreadyPruned), Set(r.pruned))
    }

    func testExportModelIsReadableSafetensors() throws {
        let p = try project()
        let path = dir + "/a.safetensors"
        let e = try exportModel(project: p, checkpoint: "a:latest", to: path)
        let c = try resolveCheckpoint(p, "a:latest")
        XCTAssertEqual(e.checkpoint, c.id)
        let file = try SafeTensorsFile(path: path)
        let infos = try p.checkpointTensorInfos(checkpointId: c.id).filter { $0.kind == .weight }
        XCTAssertEqual(e.tensors, infos.count)
        XCTAssertEqual(Set(file.tensors.keys), Set(infos.map(\.name)))
        XCTAssertEqual(file.metadata["model"], "a")
        XCTAssertEqual(file.metadata["iteration"], "12")
        XCTAssertEqual(file.metadata["architecture"], "tiny")
        var checked = 0
        try p.forEachCheckpointTensor(checkpointId: c.id, kind: .weight) { t in
            XCTAssertEqual(file.tensors[t.name]?.dtype, "F32")
            XCTAssertEqual(file.tensors[t.name]?.shape, t.shape)
            XCTAssertEqual(try file.floats(t.name, shape: t.shape), t.floats)
            checked += 1
        }
        XCTAssertEqual(checked, infos.count)
        // The header length is a multiple of 8 and the data follows it exactly.
        let raw = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = raw.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(Int64(raw.count), Int64(8 + n) + infos.reduce(0) { $0 + Int64($1.byteCount) })
        XCTAssertThrowsError(try exportModel(project: p, checkpoint: "nope", model: "a", to: dir + "/n.safetensors"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/n.safetensors"))
    }
}
