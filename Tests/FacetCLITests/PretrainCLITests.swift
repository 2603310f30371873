/// `facet pretrain` as a user runs it: two real projects' kept faces pooled into a new file, a generic model trained
/// there on all of them, a pair warm-started from it, a rerun carrying on, and each kind of bad input refused.
import XCTest
import Foundation
import FacetCore
import FacetStore
import GRDB

final class PretrainCLITests: CLITestCase {
    /// Copies a fixture project made by an earlier Facet (real extracted faces: `Fixtures/projects/README.md`).
    func fixture(_ name: String, as copy: String) throws -> String {
        let file = path(copy)
        try FileManager.default.copyItem(atPath: Self.fixtures + "/projects/" + name, toPath: file)
        return file
    }

    func testPretrainPoolsEveryKeptFaceTrainsBothDecodersAndAPairStartsFromIt() throws {
        // schema2.facet: 11 kept src faces (one rejected) and 12 dst faces; schema2-extra-d20.facet: 5 src faces.
        let a = try fixture("schema2.facet", as: "a.facet"), b = try fixture("schema2-extra-d20.facet", as: "b.facet")
        let out = path("generic.facet")
        let r = try facet(["pretrain", out, "--from", a, b, "--model", "tiny", "--batch", "2", "--iterations", "3",
                           "--seed", "4"])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("from \(a): 23 faces copied"), r.stdout)
        XCTAssertTrue(r.stdout.contains("from \(b): 5 faces copied"), r.stdout)
        XCTAssertTrue(r.stdout.contains("pretrained model 'pretrain' in \(out): checkpoint #"), r.stdout)

        let p = try Project(path: out, mode: .readOnly)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(status: .kept)).count, 28)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(role: .src)).count, 16)
        let model = try XCTUnwrap(try p.model(named: "pretrain"))
        XCTAssertEqual(model.architecture, "tiny")
        XCTAssertTrue(model.optionsJson.contains("\"pretrain\":true"), model.optionsJson)
        // Every face is the model's, src and dst alike (one split: held-out faces are out for both decoders).
        let split = try p.modelFaces(modelId: model.id!)
        let all = split.train.values.joined().count + split.validation.values.joined().count
        XCTAssertEqual(all, 28)
        XCTAssertFalse((split.train[.dst] ?? []).isEmpty)
        XCTAssertEqual(try p.checkpoints(modelId: model.id!).map(\.iteration), [3])
        // Lineage: both sources with the SHA-256 of their bytes.
        let sources = try p.pretrainSources()
        XCTAssertEqual(sources.map(\.path), [a, b])
        XCTAssertEqual(sources.map(\.sha256), [try SHA256.hex(ofFile: a), try SHA256.hex(ofFile: b)])
        XCTAssertEqual(sources.map(\.faces), [23, 5])
        // The copied faces keep their crops and landmarks: the first src face of a, byte for byte.
        let source = try Project(path: a, mode: .readOnly)
        let firstA = try XCTUnwrap(try source.faces(matching: FaceQuery(role: .src, status: .kept)).first)
        let firstOut = try XCTUnwrap(try p.faces(matching: FaceQuery(role: .src, status: .kept)).first)
        XCTAssertEqual(try p.faceCrop(id: firstOut.id).data, try source.faceCrop(id: firstA.id).data)
        XCTAssertEqual(firstOut.landmarks, firstA.landmarks)
        XCTAssertEqual(firstOut.frameIndex, firstA.frameIndex)
        try source.close()
        try p.close()

        // A pair warm-started from it: the pretrained weights, the lineage naming the file and checkpoint.
        let pair = try fixture("schema2.facet", as: "pair.facet")
        let t = try facet(["train", pair, "--model", "tiny", "--batch", "2", "--iterations", "1", "--no-score",
                           "--init-from", out + ":latest"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let q = try Project(path: pair, mode: .readOnly)
        let init0 = try XCTUnwrap(try q.modelInit(modelId: try XCTUnwrap(try q.model(named: "tiny")).id!))
        XCTAssertEqual(init0.sourceSHA256, try SHA256.hex(ofFile: out))
        XCTAssertEqual(init0.sourceModel, "pretrain")
        XCTAssertEqual(init0.sourceIteration, 3)
        try q.close()

        // Again with the same sources: the model carries on, no face is copied twice.
        let again = try facet(["pretrain", out, "--from", a, "--iterations", "5"])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertTrue(again.stdout.contains("from \(a): 0 faces copied, 2 video(s) already here left out"), again.stdout)
        XCTAssertTrue(again.stderr.contains("resuming model 'pretrain'"), again.stderr)
        let p2 = try Project(path: out, mode: .readOnly)
        XCTAssertEqual(try p2.faceIDs(matching: FaceQuery(status: .kept)).count, 28)
        XCTAssertEqual(try p2.checkpoints(modelId: model.id!).map(\.iteration), [3, 5])
        XCTAssertEqual(try p2.pretrainSources().count, 3)
        try p2.close()
    }

    /// `facet pretrain --model saehd` with SAEHD's network options (a liae-ud at DeepFaceLab's smallest widths); a pair
    /// started from it with --init-from and no network options takes the pretrained network and face type, and
    /// --freeze encoder is recorded; network options on a rerun, or for another architecture, are refused.
    func testSAEHDPretrainsAndAPairStartsFromItsNetwork() throws {
        let a = try fixture("schema2.facet", as: "a.facet"), b = try fixture("schema2-extra-d20.facet", as: "b.facet")
        let out = path("generic.facet")
        let net = ["--archi", "liae-ud", "--face-type", "wf", "--resolution", "64", "--ae-dims", "32", "--e-dims", "16",
                   "--d-dims", "16", "--d-mask-dims", "16"]
        let r = try facet(["pretrain", out, "--from", a, b, "--model", "saehd", "--batch", "2", "--iterations", "2",
                           "--seed", "4"] + net)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("pretraining model 'pretrain' (saehd, 64 px, batch 2)"), r.stderr)
        XCTAssertTrue(r.stdout.contains("facet train P.facet --model saehd --init-from \(out):"), r.stdout)
        let p = try Project(path: out, mode: .readOnly)
        let generic = try XCTUnwrap(try p.model(named: "pretrain"))
        XCTAssertEqual([generic.architecture, generic.faceType], ["saehd", "whole_face"])
        XCTAssertTrue(generic.optionsJson.contains("\"archi\":\"liae-ud\""), generic.optionsJson)
        try p.close()

        assertFailsCleanly(try facet(["pretrain", out, "--from", a, "--iterations", "3", "--archi", "df"]),
                           mentioning: "archi, resolution, face type and the widths are fixed")
        let wrong = try facet(["pretrain", path("x.facet"), "--from", a, "--model", "tiny", "--archi", "df"])
        XCTAssertEqual(wrong.status, 2, wrong.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("x.facet")))

        let pair = try fixture("schema2.facet", as: "pair.facet")
        let t = try facet(["train", pair, "--model", "saehd", "--batch", "2", "--iterations", "1", "--no-score",
                           "--init-from", out + ":latest", "--freeze", "encoder"])
        XCTAssertEqual(t.status, 0, t.stderr)
        let q = try Project(path: pair, mode: .readOnly)
        let warm = try XCTUnwrap(try q.model(named: "saehd"))
        XCTAssertEqual([warm.architecture, warm.faceType], ["saehd", "whole_face"])
        func network(_ json: String) throws -> NSDictionary {
            let o = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            return try XCTUnwrap((o["saehd"] as? [String: Any])?["network"] as? NSDictionary)
        }
        XCTAssertEqual(try network(warm.optionsJson), try network(generic.optionsJson))
        XCTAssertTrue(warm.optionsJson.contains("\"frozen\":[\"encoder\"]"), warm.optionsJson)
        let lineage = try XCTUnwrap(try q.modelInit(modelId: warm.id!))
        XCTAssertEqual(lineage.sourceModel, "pretrain")
        XCTAssertEqual(lineage.sourceIteration, 2)
        XCTAssertEqual(lineage.frozen, "encoder")
        try q.close()
    }

    func testBadInputIsOneLineAndWritesNothing() throws {
        let a = try fixture("schema2.facet", as: "a.facet")
        let out = path("generic.facet")
        assertFailsCleanly(try facet(["pretrain", out, "--from", a, path("nope.facet")]), mentioning: "nope.facet: not found")
        let text = path("notes.txt")
        try "not a project".write(toFile: text, atomically: true, encoding: .utf8)
        assertFailsCleanly(try facet(["pretrain", out, "--from", a, text]), mentioning: "notes.txt")
        let empty = path("empty.facet")
        XCTAssertEqual(try facet(["init", empty]).status, 0)
        assertFailsCleanly(try facet(["pretrain", out, "--from", a, empty]), mentioning: "has no kept faces to pretrain on")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written")

        // An existing pretrained tiny model asked to be a quick96 one: refused before anything is copied or trained.
        XCTAssertEqual(try facet(["pretrain", out, "--from", a, "--model", "tiny", "--batch", "2", "--iterations", "1"])
            .status, 0)
        let b = try fixture("schema2-extra-d20.facet", as: "b.facet")
        assertFailsCleanly(try facet(["pretrain", out, "--from", b, "--model", "quick96", "--iterations", "2"]),
                           mentioning: "architectures differ")
        // Nothing written (SQLite may still touch the header when it closes the file).
        let p = try Project(path: out, mode: .readOnly)
        XCTAssertEqual(try p.faceIDs(matching: FaceQuery(status: .kept)).count, 23, "b's faces not copied")
        XCTAssertEqual(try p.pretrainSources().map(\.path), [a])
        XCTAssertEqual(try p.checkpoints().map(\.iteration), [1])
        try p.close()
    }
}
