/// `facet pretrain OUT.facet --from A.facet B.facet ...`: DeepFaceLab's pretraining workflow. Every kept face of the
/// source projects (all roles, all persons) is copied into OUT.facet, and a generic model trains there with both
/// decoders on all of them; `facet train P --init-from OUT.facet:CKPT` then starts a pair from a model that knows
/// faces.
import ArgumentParser
import FacetCore
import FacetStore
import FacetTrain
import Foundation

struct PretrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pretrain",
        abstract: "Train a generic model on every kept face of several projects (both decoders on all faces), for "
                  + "facet train --init-from.",
        discussion: """
            OUT.facet is created (or, made by an earlier pretrain, added to): the kept faces of each --from project \
            are copied in with their crops and landmarks (a video already there is not copied twice), each source \
            recorded with its SHA-256, then the model trains as `facet train` does (checkpoints, Ctrl-C saves and \
            stops); run again to carry on. Use it with: facet train P.facet --model M --init-from OUT.facet:latest.
            """)

    @Argument(help: "The pretraining project to write (created when missing).") var out: String
    @Option(parsing: .upToNextOption, help: "The projects whose kept faces to train on.") var from: [String] = []
    @Option(help: """
        Architecture of a new model: quick96, tiny, h128 or saehd (default: the existing model's, else tiny).
        """)
    var model: TrainArchitecture?
    @OptionGroup var network: SAEHDNetworkFlags
    @Option(help: "Name of the model in OUT.facet (default: pretrain).") var name = "pretrain"
    @Option(help: "Faces per role per iteration (default: the architecture's).") var batch: Int?
    @Option(help: "Stop when the model reaches iteration N (counted over all its runs).") var iterations: Int?
    @Option(help: "Stop after M minutes of this run.") var minutes: Double?
    @Option(help: "Minutes between checkpoints (one is always saved at the end).") var saveEveryMinutes: Double = 10
    @Option(help: "Seed of a new model's weights, split, sampling and augmentation.") var seed: UInt64?

    func validate() throws {
        if from.isEmpty { throw ValidationError("name the projects to pretrain on with --from A.facet B.facet ...") }
        if iterations != nil && minutes != nil { throw ValidationError("give --iterations or --minutes, not both") }
        if let m = minutes, !(m > 0) { throw ValidationError("--minutes must be positive") }
        if network.given, let m = model, m != .saehd {
            throw ValidationError("--archi, --resolution, --face-type, --ae-dims, --e-dims, --d-dims, --d-mask-dims "
                                  + "and --preset are options of --model saehd")
        }
    }

    func run() throws {
        // Every check comes first, on files opened read-only: bad input writes nothing.
        let outURL = URL(fileURLWithPath: out).standardizedFileURL
        var sources: [(path: String, sha256: String, faces: Int)] = []
        for path in from {
            guard FileManager.default.fileExists(atPath: path) else {
                throw FacetError.file(path, "not found (--from)", kind: .notFound)
            }
            if URL(fileURLWithPath: path).standardizedFileURL == outURL {
                throw FacetError.file(path, "is the pretraining project itself; name other projects with --from")
            }
            let p = try Project(path: path, mode: .readOnly)
            let kept = try p.faceIDs(matching: FaceQuery(status: .kept)).count
            guard kept > 0 else {
                throw FacetError.file(path, "has no kept faces to pretrain on (extract faces there first)")
            }
            try p.close()
            sources.append((path, try SHA256.hex(ofFile: path), kept))
        }
        let exists = FileManager.default.fileExists(atPath: out)
        var architecture = model ?? .tiny
        var resume = false
        if exists {
            let p = try Project(path: out, mode: .readOnly)
            if let m = try p.model(named: name), !(try p.checkpoints(modelId: m.id!).isEmpty) {
                let stored = try ModelOptions.parse(m.optionsJson, model: m.name)
                if let wanted = model, wanted != stored.architecture {
                    throw FacetError.file(out, "model '\(name)' is a \(stored.architecture.rawValue) model, not "
                                          + "\(wanted.rawValue) (architectures differ): drop --model to carry on "
                                          + "with it, or pick another --name", kind: .conflict)
                }
                guard stored.pretrain == true else {
                    throw FacetError.file(out, "model '\(name)' is not a pretrained model (facet train made it); "
                                          + "pick another --name", kind: .conflict)
                }
                architecture = stored.architecture
                resume = true
            }
            try p.close()
        }

        var saehd: SAEHDOptions?
        if network.given {
            guard !resume else {
                throw FacetError.file(out, "model '\(name)': archi, resolution, face type and the widths are fixed "
                                      + "when a model is created; drop them to carry on", kind: .conflict)
            }
            guard architecture == .saehd else {
                throw FacetError("--archi, --resolution, --face-type, the widths and --preset are options of "
                                 + "--model saehd")
            }
        }
        if architecture == .saehd && !resume {
            let o = try network.options()
            try o.validate()
            saehd = o
        }
        let wantedBatch = batch ?? architecture.defaultBatchSize
        let pool = sources.reduce(0) { $0 + $1.faces }
        if !resume, pool < wantedBatch + 1 {
            throw FacetError("the --from projects hold \(pool) kept faces, too few for a batch of \(wantedBatch) "
                             + "and a held-out face: add projects with more faces, or lower --batch")
        }
        let project = exists ? try Project(path: out) : try Project.create(at: out)
        for s in sources {
            let source = try Project(path: s.path, mode: .readOnly)
            let r = try project.copyKeptFaces(from: source, sourcePath: s.path, sourceSHA256: s.sha256)
            try source.close()
            print("from \(s.path): \(r.faces) faces copied"
                  + (r.mediaSkipped > 0 ? ", \(r.mediaSkipped) video(s) already here left out" : "")
                  + " (SHA-256 \(s.sha256.prefix(12))…)")
        }

        var options = TrainOptions(architecture: resume ? nil : architecture, name: name, resume: resume,
                                   batchSize: batch, saveEveryMinutes: saveEveryMinutes, seed: seed)
        options.pretrain = true
        options.saehd = saehd
        if let i = iterations { options.stop = .iterations(i) } else if let m = minutes { options.stop = .minutes(m) }
        let trainer = try Trainer(project: project, options: options)
        let counts = trainer.faceCounts
        FileHandle.standardError.write(Data(("\(resume ? "resuming" : "pretraining") model '\(name)' "
            + "(\(trainer.model.architecture), \(trainer.options.resolution) px, batch \(trainer.runBatchSize)) on "
            + "\(counts.train[.src] ?? 0) faces + \(counts.validation[.src] ?? 0) held out, both decoders. "
            + "Ctrl-C saves and stops.\n").utf8))
        let stop = StopFlag()
        let signals = stop.installSignalHandlers()
        defer { withExtendedLifetime(signals) {} }
        var line = ProgressLine()
        let result = try trainer.run(shouldStop: { stop.isSet }) { p in
            if let e = p.event {
                line.finish("guard at iteration \(e.iteration): \(e.detail)")
            } else if let c = p.saved {
                line.finish("saved checkpoint #\(c.id) at iteration \(c.iteration)"
                            + (c.valLoss.map { String(format: " (val loss %.4f)", $0) } ?? ""))
            } else {
                line.update("iter \(p.iteration)  \(String(format: "%.2f", p.iterationsPerSecond)) it/s  mean50 "
                            + String(format: "%.4f", p.recentLoss))
            }
        }
        let c = result.checkpoint
        print("\(result.interrupted ? "interrupted: " : "")pretrained model '\(name)' in \(out): checkpoint #\(c.id) "
              + "at iteration \(c.iteration) (\(result.iterationsThisRun) iterations this run); start a pair from it "
              + "with: facet train P.facet --model \(trainer.model.architecture) --init-from \(out):\(c.id)")
    }
}
