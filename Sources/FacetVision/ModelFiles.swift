/// Finds the pretrained model files (MTCNN weights, dlib's shape predictor) and hashes them for provenance.
import FacetCore
import Foundation

/// Where Facet's model files live. Nothing is downloaded at run time: `Tools/fetch-models` converts
/// the MTCNN weights once, and Debian's `libdlib-data` installs the shape predictor.
public enum ModelFiles {
    public static let mtcnnFileName = "mtcnn.safetensors"
    /// SHA-256 of the file Tools/fetch-models writes (its converter is deterministic).
    public static let mtcnnSHA256 = "d69ba0737a477b29288060d1115b4296a662daa1128910a717d198acf1b0354b"
    public static let defaultShapePredictorPath = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"

    /// The MTCNN weights: `$FACET_MODELS/mtcnn.safetensors`, else `Models/` of the repository that
    /// holds the running executable (found by walking up from the executable's folder), else
    /// `./Models`. Throws, naming every place looked in, when none has the file.
    public static func mtcnnWeights() throws -> String {
        var looked: [String] = []
        func candidate(_ dir: String) -> String? {
            let path = (dir as NSString).appendingPathComponent(mtcnnFileName)
            looked.append(path)
            return FileManager.default.isReadableFile(atPath: path) ? path : nil
        }
        let env = ProcessInfo.processInfo.environment
        if let dir = env["FACET_MODELS"], !dir.isEmpty, let found = candidate(dir) { return found }
        if let exe = executablePath() {
            var dir = ((exe as NSString).resolvingSymlinksInPath as NSString).deletingLastPathComponent
            while true {
                let models = (dir as NSString).appendingPathComponent("Models")
                let path = (models as NSString).appendingPathComponent(mtcnnFileName)
                if FileManager.default.isReadableFile(atPath: path) { return path }
                let parent = (dir as NSString).deletingLastPathComponent
                if parent == dir || parent.isEmpty { break }
                dir = parent
            }
            looked.append("Models/ in the folders above \((exe as NSString).deletingLastPathComponent)")
        }
        let cwdModels = (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent("Models")
        if let found = candidate(cwdModels) { return found }
        throw FacetError("MTCNN weights not found (looked in \(looked.joined(separator: ", "))): run Tools/fetch-models")
    }

    /// dlib's 68-point model: `$FACET_SHAPE_PREDICTOR`, else the path Debian's libdlib-data installs.
    public static func shapePredictor() throws -> String {
        if let path = ProcessInfo.processInfo.environment["FACET_SHAPE_PREDICTOR"], !path.isEmpty {
            guard FileManager.default.isReadableFile(atPath: path) else {
                throw FacetError("shape predictor not found at \(path) (from FACET_SHAPE_PREDICTOR): fix the variable, or unset it and run 'apt-get install libdlib-data'")
            }
            return path
        }
        guard FileManager.default.isReadableFile(atPath: defaultShapePredictorPath) else {
            throw FacetError("shape predictor not found at \(defaultShapePredictorPath): run 'apt-get install libdlib-data' (or set FACET_SHAPE_PREDICTOR to the .dat file)")
        }
        return defaultShapePredictorPath
    }

    /// The lowercase hex SHA-256 of a file's bytes, read in 1 MiB blocks.
    public static func sha256(ofFile path: String) throws -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw FacetError.file(path, "cannot open the file to hash it")
        }
        defer { try? handle.close() }
        var hasher = SHA256()
        while true {
            let block: Data
            do { block = try handle.read(upToCount: 1 << 20) ?? Data() } catch {
                throw FacetError.file(path, "read failed while hashing: \(error.localizedDescription)")
            }
            if block.isEmpty { break }
            block.withUnsafeBytes { hasher.update($0) }
        }
        return hasher.finalizeHex()
    }

    /// The lowercase hex SHA-256 of `bytes`.
    public static func sha256(of bytes: [UInt8]) -> String {
        var hasher = SHA256()
        bytes.withUnsafeBytes { hasher.update($0) }
        return hasher.finalizeHex()
    }

    private static func executablePath() -> String? {
        #if os(Linux)
        if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments.first
    }
}

/// FIPS 180-4 SHA-256, streaming. Foundation on Linux has no CryptoKit, and the project takes no
/// dependency just to hash two model files.
struct SHA256 {
    private var state: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) =
        (0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19)
    private var buffer = [UInt8](repeating: 0, count: 64)
    private var buffered = 0
    private var totalBytes: UInt64 = 0

    private static let k: [UInt32] = [
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
        0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
        0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
        0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
        0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
        0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
        0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
    ]

    mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard let base = bytes.baseAddress, bytes.count > 0 else { return }
        totalBytes &+= UInt64(bytes.count)
        var offset = 0
        if buffered > 0 {
            let take = min(64 - buffered, bytes.count)
            for i in 0..<take { buffer[buffered + i] = bytes[i] }
            buffered += take
            offset = take
            if buffered == 64 {
                buffer.withUnsafeBytes { compress($0.baseAddress!) }
                buffered = 0
            }
        }
        while bytes.count - offset >= 64 {
            compress(base + offset)
            offset += 64
        }
        while offset < bytes.count {
            buffer[buffered] = bytes[offset]
            buffered += 1
            offset += 1
        }
    }

    mutating func finalizeHex() -> String {
        let bitLength = totalBytes &* 8
        var tail: [UInt8] = [0x80]
        let padding = (55 - Int(totalBytes % 64) + 64) % 64
        tail += [UInt8](repeating: 0, count: padding)
        for shift in stride(from: 56, through: 0, by: -8) { tail.append(UInt8(truncatingIfNeeded: bitLength >> UInt64(shift))) }
        tail.withUnsafeBytes { update($0) }
        precondition(buffered == 0, "SHA-256 padding must end on a block boundary")
        let words = [state.0, state.1, state.2, state.3, state.4, state.5, state.6, state.7]
        return words.map { word in
            let hex = String(word, radix: 16)
            return String(repeating: "0", count: 8 - hex.count) + hex
        }.joined()
    }

    private mutating func compress(_ block: UnsafeRawPointer) {
        @inline(__always) func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 { (x >> n) | (x << (32 - n)) }
        // The message schedule lives on the stack: hashing the 100 MB shape predictor runs this 1.5 M times.
        state = withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
            for i in 0..<16 { w[i] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self)) }
            for i in 16..<64 {
                let s0 = rotr(w[i - 15], 7) ^ rotr(w[i - 15], 18) ^ (w[i - 15] >> 3)
                let s1 = rotr(w[i - 2], 17) ^ rotr(w[i - 2], 19) ^ (w[i - 2] >> 10)
                w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
            }
            var (a, b, c, d, e, f, g, h) = state
            Self.k.withUnsafeBufferPointer { k in
                for i in 0..<64 {
                    let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
                    let ch = (e & f) ^ (~e & g)
                    let t1 = h &+ s1 &+ ch &+ k[i] &+ w[i]
                    let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
                    let maj = (a & b) ^ (a & c) ^ (b & c)
                    let t2 = s0 &+ maj
                    h = g; g = f; f = e; e = d &+ t1
                    d = c; c = b; b = a; a = t1 &+ t2
                }
            }
            return (state.0 &+ a, state.1 &+ b, state.2 &+ c, state.3 &+ d,
                    state.4 &+ e, state.5 &+ f, state.6 &+ g, state.7 &+ h)
        }
    }
}
