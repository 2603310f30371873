/// A small, strict reader of Python pickles: exactly the values DeepFaceLab's `pickle.dumps` writes into its
/// files (dict, list, tuple, str, int, float, bool, None, bytes, and numpy arrays through their reduce form).
/// Every other opcode and every other global is refused with one line; nothing is ever called or imported.
import FacetCore
import Foundation

/// A Python value as a pickle carries it, limited to the types DeepFaceLab writes.
public indirect enum PyValue: Sendable, Equatable {
    case none
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case str(String)
    case bytes(Data)
    case list([PyValue])
    case tuple([PyValue])
    /// Keys in the order the pickle stored them.
    case dict([(PyValue, PyValue)])
    case array(NDArray)

    /// Structural equality; dict entries compared in their stored order.
    public static func == (a: PyValue, b: PyValue) -> Bool {
        switch (a, b) {
        case (.none, .none): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.float(x), .float(y)): return x == y || (x.isNaN && y.isNaN)
        case let (.str(x), .str(y)): return x == y
        case let (.bytes(x), .bytes(y)): return x == y
        case let (.list(x), .list(y)), let (.tuple(x), .tuple(y)): return x == y
        case let (.dict(x), .dict(y)): return x.count == y.count && zip(x, y).allSatisfy {
            $0.0 == $1.0 && $0.1 == $1.1
        }
        case let (.array(x), .array(y)): return x == y
        default: return false
        }
    }

    /// The value under string key `key` of a dict, or nil.
    public subscript(key: String) -> PyValue? {
        guard case .dict(let items) = self else { return nil }
        return items.first { if case .str(key) = $0.0 { return true } else { return false } }?.1
    }

    /// A number (int, float or bool) as a Double, or nil.
    public var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let f): return f
        case .bool(let b): return b ? 1 : 0
        default: return nil
        }
    }

    /// A list, a tuple or a one-dimensional numeric array as numbers, or nil.
    public var numbers: [Double]? {
        switch self {
        case .list(let items), .tuple(let items):
            var out: [Double] = []
            out.reserveCapacity(items.count)
            for v in items { guard let n = v.number else { return nil }; out.append(n) }
            return out
        case .array(let a): return a.shape.count == 1 ? a.doubles : nil
        default: return nil
        }
    }

    /// Rows of `width` numbers: a list/tuple of lists/tuples, or a 2-D numeric array of that width.
    public func rows(width: Int) -> [[Double]]? {
        switch self {
        case .list(let items), .tuple(let items):
            var out: [[Double]] = []
            for v in items { guard let row = v.numbers, row.count == width else { return nil }; out.append(row) }
            return out
        case .array(let a):
            guard a.shape.count == 2, a.shape[1] == width, let values = a.doubles else { return nil }
            return stride(from: 0, to: values.count, by: width).map { Array(values[$0..<$0 + width]) }
        default: return nil
        }
    }
}

/// A numpy array: element type, shape, and its bytes in C order.
public struct NDArray: Sendable, Equatable {
    /// numpy's type code: `f` float, `i` signed, `u` unsigned, `b` bool.
    public var kind: Character
    /// Bytes per element.
    public var itemSize: Int
    /// Whether multi-byte elements are stored big-endian.
    public var bigEndian: Bool
    /// Elements per dimension, outermost first.
    public var shape: [Int]
    /// The elements' bytes in C order, `count * itemSize` of them.
    public var data: Data

    /// Number of elements (the product of the shape).
    public var count: Int { shape.reduce(1, *) }

    /// The numpy type string, e.g. `<f8`, `|u1`.
    public var typeString: String { (itemSize == 1 ? "|" : bigEndian ? ">" : "<") + String(kind) + String(itemSize) }

    /// A float32 array, little-endian, of `shape`.
    public init(float32 values: [Float], shape: [Int]) {
        self.init(kind: "f", itemSize: 4, bigEndian: false, shape: shape,
                  data: values.withUnsafeBufferPointer { Data(buffer: $0) })
    }

    /// A float64 array, little-endian, of `shape`.
    public init(float64 values: [Double], shape: [Int]) {
        self.init(kind: "f", itemSize: 8, bigEndian: false, shape: shape,
                  data: values.withUnsafeBufferPointer { Data(buffer: $0) })
    }

    /// An array of the given parts (no checks: the unpickler checks sizes before making one).
    public init(kind: Character, itemSize: Int, bigEndian: Bool, shape: [Int], data: Data) {
        self.kind = kind; self.itemSize = itemSize; self.bigEndian = bigEndian; self.shape = shape; self.data = data
    }

    /// The elements as Doubles in C order, or nil for a type that is not numeric.
    public var doubles: [Double]? {
        let n = count
        guard data.count == n * itemSize else { return nil }
        var out = [Double](repeating: 0, count: n)
        return data.withUnsafeBytes { raw -> [Double]? in
            func u(_ i: Int, _ size: Int) -> UInt64 {
                var v: UInt64 = 0
                for k in 0..<size {
                    let byte = UInt64(raw[i * size + (bigEndian ? size - 1 - k : k)])
                    v |= byte << (8 * UInt64(k))
                }
                return v
            }
            for i in 0..<n {
                switch (kind, itemSize) {
                case ("f", 8): out[i] = Double(bitPattern: u(i, 8))
                case ("f", 4): out[i] = Double(Float(bitPattern: UInt32(u(i, 4))))
                case ("f", 2): out[i] = Double(Float16Bits.toFloat(UInt16(u(i, 2))))
                case ("u", _), ("b", 1): out[i] = Double(u(i, itemSize))
                case ("i", 1): out[i] = Double(Int8(truncatingIfNeeded: u(i, 1)))
                case ("i", 2): out[i] = Double(Int16(truncatingIfNeeded: u(i, 2)))
                case ("i", 4): out[i] = Double(Int32(truncatingIfNeeded: u(i, 4)))
                case ("i", 8): out[i] = Double(Int64(bitPattern: u(i, 8)))
                default: return nil
                }
            }
            return out
        }
    }
}

/// Half-precision bits to Float without relying on the platform's Float16.
enum Float16Bits {
    static func toFloat(_ h: UInt16) -> Float {
        let sign: UInt32 = UInt32(h >> 15) << 31
        var exponent = Int((h >> 10) & 0x1F), mantissa = UInt32(h & 0x3FF)
        if exponent == 0x1F { return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13)) }
        if exponent == 0 {
            if mantissa == 0 { return Float(bitPattern: sign) }
            while mantissa & 0x400 == 0 { mantissa <<= 1; exponent -= 1 }
            exponent += 1; mantissa &= 0x3FF
        }
        return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
    }
}

/// Reads a pickle (protocols 2 to 5) into a `PyValue`. Refuses, with one line, any opcode and any global
/// outside the subset DeepFaceLab's files use, arrays whose bytes do not match their shape and type, and
/// values nested deeper than `maxDepth`.
public struct Unpickler {
    /// How deep lists, dicts and tuples may nest.
    public static let maxDepth = 64

    /// The value the pickle in `data` holds; `what` names it in errors (e.g. "APP15 block").
    public static func load(_ data: Data, what: String = "pickle") throws -> PyValue {
        var u = Unpickler(bytes: [UInt8](data), what: what)
        return try u.run()
    }

    // Mutable containers are objects while the pickle is read: the memo and later APPENDS/SETITEMS/BUILD
    // must see the same list, dict or array.
    private final class Box {
        enum Content {
            case value(PyValue)
            case list([Box])
            case dict([(Box, Box)])
            case tuple([Box])
            case global(String)
            case dtype(kind: Character, itemSize: Int, bigEndian: Bool?)
            case array(NDArray?)
            case mark
        }
        var content: Content
        init(_ c: Content) { content = c }
    }

    private let bytes: [UInt8]
    private let what: String
    private var pos = 0
    private var stack: [Box] = []
    private var marks: [Int] = []
    private var memo: [Int: Box] = [:]

    private init(bytes: [UInt8], what: String) { self.bytes = bytes; self.what = what }

    private func fail(_ why: String) -> FacetError { FacetError("\(what): \(why)") }

    private mutating func take(_ n: Int) throws -> ArraySlice<UInt8> {
        guard n >= 0, n <= bytes.count - pos else {
            throw fail("truncated pickle (needs \(n) more bytes at offset \(pos))")
        }
        defer { pos += n }
        return bytes[pos..<pos + n]
    }
    private mutating func byte() throws -> UInt8 { try take(1).first! }
    private mutating func uint(_ n: Int) throws -> UInt64 {
        var v: UInt64 = 0
        for (k, b) in try take(n).enumerated() { v |= UInt64(b) << (8 * UInt64(k)) }
        return v
    }
    private mutating func length(_ n: Int) throws -> Int {
        let v = try uint(n)
        guard v <= UInt64(bytes.count - pos) else {
            throw fail("truncated pickle (a length of \(v) bytes at offset \(pos - n))")
        }
        return Int(v)
    }
    private mutating func pop() throws -> Box {
        guard let b = stack.popLast() else { throw fail("malformed pickle (stack empty at offset \(pos - 1))") }
        if case .mark = b.content { throw fail("malformed pickle (unexpected mark at offset \(pos - 1))") }
        return b
    }
    private mutating func popMark() throws -> [Box] {
        guard let m = marks.popLast() else { throw fail("malformed pickle (no mark at offset \(pos - 1))") }
        let items = Array(stack[(m + 1)...])
        stack.removeSubrange(m...)
        return items
    }
    private mutating func text(_ n: Int) throws -> String {
        guard let s = String(bytes: try take(n), encoding: .utf8) else {
            throw fail("a string that is not UTF-8 at offset \(pos - n)")
        }
        return s
    }
    private mutating func line() throws -> String {
        guard let end = bytes[pos...].firstIndex(of: 0x0A) else { throw fail("truncated pickle (unterminated GLOBAL)") }
        let s = String(decoding: bytes[pos..<end], as: UTF8.self)
        pos = end + 1
        return s
    }

    private static let allowedGlobals: Set<String> = [
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.ndarray", "numpy.dtype", "_codecs.encode",
        "numpy.core.numeric._frombuffer", "numpy._core.numeric._frombuffer",
    ]

    private mutating func global(_ module: String, _ name: String) throws -> Box {
        let full = module + "." + name
        guard Unpickler.allowedGlobals.contains(full) else {
            throw fail("pickle refers to '\(full.prefix(80))', which is not one of the types DeepFaceLab writes")
        }
        return Box(.global(full.replacingOccurrences(of: "numpy._core.", with: "numpy.core.")))
    }

    private mutating func run() throws -> PyValue {
        while true {
            let at = pos
            let op = try byte()
            switch op {
            case 0x80: // PROTO
                let v = try byte()
                guard (2...5).contains(v) else { throw fail("pickle protocol \(v) is not supported (2 to 5 are)") }
            case 0x95: _ = try uint(8) // FRAME: a hint only
            case 0x2E: // STOP
                let top = try pop()
                guard stack.isEmpty, marks.isEmpty else {
                    throw fail("malformed pickle (values left on the stack at STOP)")
                }
                return try value(top, depth: 0)
            case 0x28: marks.append(stack.count); stack.append(Box(.mark)) // MARK
            case 0x7D: stack.append(Box(.dict([]))) // EMPTY_DICT
            case 0x5D: stack.append(Box(.list([]))) // EMPTY_LIST
            case 0x29: stack.append(Box(.tuple([]))) // EMPTY_TUPLE
            case 0x74: // TUPLE
                let items = try popMark()
                stack.append(Box(.tuple(items)))
            case 0x85, 0x86, 0x87: // TUPLE1...3
                let n = Int(op - 0x84)
                guard stack.count >= n else {
                    throw fail("malformed pickle (TUPLE\(n) on a short stack at offset \(at))")
                }
                var items: [Box] = []
                for _ in 0..<n { items.insert(try pop(), at: 0) }
                stack.append(Box(.tuple(items)))
            case 0x61: // APPEND
                let v = try pop()
                try append([v], at: at)
            case 0x65: // APPENDS (popped first: a non-mutating call would see the stack as it was)
                let items = try popMark()
                try append(items, at: at)
            case 0x73: // SETITEM
                let v = try pop(), k = try pop()
                try setItems([k, v], at: at)
            case 0x75: // SETITEMS
                let items = try popMark()
                try setItems(items, at: at)
            case 0x4E: stack.append(Box(.value(.none))) // NONE
            case 0x88: stack.append(Box(.value(.bool(true)))) // NEWTRUE
            case 0x89: stack.append(Box(.value(.bool(false)))) // NEWFALSE
            case 0x4A: stack.append(Box(.value(.int(Int64(Int32(truncatingIfNeeded: try uint(4))))))) // BININT
            case 0x4B: stack.append(Box(.value(.int(Int64(try uint(1)))))) // BININT1
            case 0x4D: stack.append(Box(.value(.int(Int64(try uint(2)))))) // BININT2
            case 0x8A: // LONG1
                let n = Int(try byte())
                guard n <= 8 else { throw fail("an integer of \(n) bytes (at most 8 are supported) at offset \(at)") }
                var v = try uint(n)
                if n > 0, n < 8, v & (1 << (8 * UInt64(n) - 1)) != 0 { v |= ~0 << (8 * UInt64(n)) }
                stack.append(Box(.value(.int(Int64(bitPattern: v)))))
            case 0x47: // BINFLOAT, big-endian
                let raw = try take(8)
                var v: UInt64 = 0
                for b in raw { v = v << 8 | UInt64(b) }
                stack.append(Box(.value(.float(Double(bitPattern: v)))))
            case 0x58: stack.append(Box(.value(.str(try text(try length(4)))))) // BINUNICODE
            case 0x8C: stack.append(Box(.value(.str(try text(try length(1)))))) // SHORT_BINUNICODE
            case 0x8D: stack.append(Box(.value(.str(try text(try length(8)))))) // BINUNICODE8
            case 0x42: stack.append(Box(.value(.bytes(Data(try take(try length(4))))))) // BINBYTES
            case 0x43: stack.append(Box(.value(.bytes(Data(try take(try length(1))))))) // SHORT_BINBYTES
            case 0x8E, 0x96: stack.append(Box(.value(.bytes(Data(try take(try length(8))))))) // BINBYTES8, BYTEARRAY8
            case 0x71, 0x72: // BINPUT, LONG_BINPUT
                let index = Int(try uint(op == 0x71 ? 1 : 4))
                guard let top = stack.last else {
                    throw fail("malformed pickle (PUT on an empty stack at offset \(at))")
                }
                memo[index] = top
            case 0x94: // MEMOIZE
                guard let top = stack.last else {
                    throw fail("malformed pickle (MEMOIZE on an empty stack at offset \(at))")
                }
                memo[memo.count] = top
            case 0x68, 0x6A: // BINGET, LONG_BINGET
                let index = Int(try uint(op == 0x68 ? 1 : 4))
                guard let b = memo[index] else {
                    throw fail("malformed pickle (memo \(index) not set, at offset \(at))")
                }
                stack.append(b)
            case 0x63: // GLOBAL
                let module = try line(), name = try line()
                stack.append(try global(module, name))
            case 0x93: // STACK_GLOBAL
                let n = try pop(), m = try pop()
                guard case .value(.str(let name)) = n.content, case .value(.str(let module)) = m.content else {
                    throw fail("malformed pickle (STACK_GLOBAL without two strings at offset \(at))")
                }
                stack.append(try global(module, name))
            case 0x52: // REDUCE
                let args = try pop(), callable = try pop()
                stack.append(try reduce(callable, args, at: at))
            case 0x62: // BUILD
                let state = try pop()
                guard let target = stack.last else {
                    throw fail("malformed pickle (BUILD on an empty stack at offset \(at))")
                }
                try build(target, state, at: at)
            default:
                throw fail(String(format: "pickle opcode 0x%02X at offset %d is not one DeepFaceLab writes", op, at))
            }
        }
    }

    private func append(_ items: [Box], at: Int) throws {
        guard let target = stack.last, case .list(var list) = target.content else {
            throw fail("malformed pickle (APPEND to something other than a list at offset \(at))")
        }
        target.content = .value(.none) // drop the reference while appending, so the array is not copied
        list.append(contentsOf: items)
        target.content = .list(list)
    }

    private func setItems(_ items: [Box], at: Int) throws {
        guard items.count % 2 == 0, let target = stack.last, case .dict(var dict) = target.content else {
            throw fail("malformed pickle (SETITEM on something other than a dict at offset \(at))")
        }
        target.content = .value(.none)
        for i in stride(from: 0, to: items.count, by: 2) {
            guard case .value(let key) = items[i].content else {
                throw fail("a dict key that is not a string or number at offset \(at)")
            }
            switch key {
            case .str, .int, .bool, .float, .none: break
            default: throw fail("a dict key that is not a string or number at offset \(at)")
            }
            if let j = dict.firstIndex(where: {
                if case .value(key) = $0.0.content { return true } else { return false }
            }) {
                dict[j].1 = items[i + 1]
            } else {
                dict.append((items[i], items[i + 1]))
            }
        }
        target.content = .dict(dict)
    }

    private func tupleItems(_ b: Box) -> [Box]? { if case .tuple(let t) = b.content { return t } else { return nil } }
    private func string(_ b: Box) -> String? {
        if case .value(.str(let s)) = b.content { return s } else { return nil }
    }
    private func int(_ b: Box) -> Int64? {
        if case .value(.int(let i)) = b.content { return i }
        if case .value(.bool(let v)) = b.content { return v ? 1 : 0 }
        return nil
    }

    private func dtype(_ code: String) throws -> Box.Content {
        var s = Substring(code)
        var big: Bool? = nil
        if let c = s.first, "<>|=".contains(c) { big = c == ">" ? true : c == "<" ? false : nil; s = s.dropFirst() }
        guard let kind = s.first, "fiub".contains(kind), let size = Int(s.dropFirst()),
              [1, 2, 4, 8].contains(size), !(kind == "f" && size == 1), !(kind == "b" && size != 1) else {
            throw fail("numpy dtype '\(code.prefix(20))' is not one DeepFaceLab writes")
        }
        return .dtype(kind: kind, itemSize: size, bigEndian: size == 1 ? false : big)
    }

    private func reduce(_ callable: Box, _ argsBox: Box, at: Int) throws -> Box {
        guard case .global(let name) = callable.content, let args = tupleItems(argsBox) else {
            throw fail("malformed pickle (REDUCE without a known callable and an argument tuple at offset \(at))")
        }
        switch name {
        case "numpy.core.multiarray._reconstruct":
            guard args.count == 3, case .global("numpy.ndarray") = args[0].content else {
                throw fail("numpy _reconstruct of something other than an ndarray at offset \(at)")
            }
            return Box(.array(nil))
        case "numpy.dtype":
            guard args.count == 3, let code = string(args[0]) else {
                throw fail("malformed numpy dtype at offset \(at)")
            }
            return Box(try dtype(code))
        case "_codecs.encode":
            guard args.count == 2, let s = string(args[0]), string(args[1]) == "latin1" else {
                throw fail("_codecs.encode other than of a latin1 string at offset \(at)")
            }
            var data = Data()
            for scalar in s.unicodeScalars {
                guard scalar.value < 256 else { throw fail("_codecs.encode of a non-latin1 string at offset \(at)") }
                data.append(UInt8(scalar.value))
            }
            return Box(.value(.bytes(data)))
        case "numpy.core.numeric._frombuffer":
            guard args.count == 4, case .value(.bytes(let data)) = args[0].content,
                  case .dtype(let kind, let size, let big) = args[1].content, let shapeItems = tupleItems(args[2]),
                  let order = string(args[3]) else {
                throw fail("malformed numpy _frombuffer at offset \(at)")
            }
            let shape = try shapeOf(shapeItems, at: at)
            guard order == "C" || shape.count <= 1 else {
                throw fail("a Fortran-ordered numpy array at offset \(at) (C order only)")
            }
            return Box(.array(try array(kind: kind, itemSize: size, bigEndian: big ?? false, shape: shape, data: data,
                                        at: at)))
        default:
            throw fail("pickle calls '\(name)' in a way DeepFaceLab does not, at offset \(at)")
        }
    }

    private func shapeOf(_ items: [Box], at: Int) throws -> [Int] {
        guard items.count <= 32 else { throw fail("a numpy array of \(items.count) dimensions at offset \(at)") }
        return try items.map { b in
            guard let v = int(b), v >= 0, v <= Int64(Int32.max) else {
                throw fail("a numpy array with a bad shape at offset \(at)")
            }
            return Int(v)
        }
    }

    private func array(kind: Character, itemSize: Int, bigEndian: Bool, shape: [Int], data: Data,
                       at: Int) throws -> NDArray {
        var count = 1
        for d in shape {
            let (product, overflow) = count.multipliedReportingOverflow(by: d)
            guard !overflow, product <= Int(Int32.max) else {
                throw fail("a numpy array of shape \(shape) is too large, at offset \(at)")
            }
            count = product
        }
        guard count * itemSize == data.count else {
            throw fail("a numpy array of shape \(shape) and \(itemSize)-byte elements holds \(data.count) bytes, "
                       + "not \(count * itemSize), at offset \(at)")
        }
        return NDArray(kind: kind, itemSize: itemSize, bigEndian: bigEndian, shape: shape, data: data)
    }

    private func build(_ target: Box, _ stateBox: Box, at: Int) throws {
        switch target.content {
        case .dtype(let kind, let size, _):
            // (version, byte order, subarray, names, fields, elsize, alignment, flags)
            guard let state = tupleItems(stateBox), state.count >= 2, let order = string(state[1]) else {
                throw fail("malformed numpy dtype state at offset \(at)")
            }
            if state.count > 2, case .value(.none) = state[2].content {} else if state.count > 2 {
                throw fail("a structured numpy dtype at offset \(at)")
            }
            target.content = .dtype(kind: kind, itemSize: size, bigEndian: size == 1 ? false : order == ">")
        case .array(nil):
            // (version, shape, dtype, is_fortran, raw bytes)
            guard let state = tupleItems(stateBox), state.count == 5, let shapeItems = tupleItems(state[1]),
                  case .dtype(let kind, let size, let big) = state[2].content, let fortran = int(state[3]) else {
                throw fail("malformed numpy array state at offset \(at)")
            }
            guard case .value(.bytes(let data)) = state[4].content else {
                throw fail("a numpy array of Python objects at offset \(at) (numeric arrays only)")
            }
            let shape = try shapeOf(shapeItems, at: at)
            guard fortran == 0 || shape.filter({ $0 > 1 }).count <= 1 else {
                throw fail("a Fortran-ordered numpy array at offset \(at) (C order only)")
            }
            target.content = .array(try array(kind: kind, itemSize: size, bigEndian: big ?? false, shape: shape,
                                              data: data, at: at))
        default:
            throw fail("pickle BUILD on something other than a numpy array or dtype at offset \(at)")
        }
    }

    private func value(_ b: Box, depth: Int) throws -> PyValue {
        guard depth <= Unpickler.maxDepth else {
            throw fail("values nested more than \(Unpickler.maxDepth) deep (or a cycle)")
        }
        switch b.content {
        case .value(let v): return v
        case .list(let items): return .list(try items.map { try value($0, depth: depth + 1) })
        case .tuple(let items): return .tuple(try items.map { try value($0, depth: depth + 1) })
        case .dict(let items): return .dict(try items.map { (try value($0.0, depth: depth + 1),
                                                             try value($0.1, depth: depth + 1)) })
        case .array(let a?): return .array(a)
        case .array(nil): throw fail("a numpy array without its state")
        case .global(let g): throw fail("a bare reference to '\(g)' as a value")
        case .dtype: throw fail("a bare numpy dtype as a value")
        case .mark: throw fail("malformed pickle (a mark as a value)")
        }
    }
}

/// Writes the values `Unpickler` reads as a protocol-3 pickle, the way Python's `pickle.dumps` lays them
/// out (numpy arrays through `numpy.core.multiarray._reconstruct`, which numpy 1 and 2 both load).
public enum Pickler {
    /// The pickle of `value`.
    public static func dumps(_ value: PyValue) -> Data {
        var out: [UInt8] = [0x80, 3]
        write(value, into: &out)
        out.append(0x2E)
        return Data(out)
    }

    private static func le(_ v: UInt64, _ n: Int, _ out: inout [UInt8]) {
        for k in 0..<n { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(k)))) }
    }
    private static func str(_ s: String, _ out: inout [UInt8]) {
        let u = Array(s.utf8)
        out.append(0x58); le(UInt64(u.count), 4, &out); out += u
    }
    private static func bytes(_ d: Data, _ out: inout [UInt8]) {
        if d.count < 256 { out.append(0x43); out.append(UInt8(d.count)) } else { out.append(0x42); le(UInt64(d.count),
                                                                                                      4, &out) }
        out += d
    }
    private static func global(_ module: String, _ name: String, _ out: inout [UInt8]) {
        out.append(0x63); out += Array((module + "\n" + name + "\n").utf8)
    }

    private static func write(_ v: PyValue, into out: inout [UInt8]) {
        switch v {
        case .none: out.append(0x4E)
        case .bool(let b): out.append(b ? 0x88 : 0x89)
        case .int(let i):
            if (0..<256).contains(i) { out.append(0x4B); out.append(UInt8(i)) }
            else if (0..<65536).contains(i) { out.append(0x4D); le(UInt64(i), 2, &out) }
            else if (Int64(Int32.min)...Int64(Int32.max)).contains(i) {
                out.append(0x4A)
                le(UInt64(bitPattern: i), 4, &out)
            }
            else { out.append(0x8A); out.append(8); le(UInt64(bitPattern: i), 8, &out) }
        case .float(let d):
            out.append(0x47)
            let bits = d.bitPattern
            for k in (0..<8).reversed() { out.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
        case .str(let s): str(s, &out)
        case .bytes(let d): bytes(d, &out)
        case .list(let items):
            out.append(0x5D)
            if !items.isEmpty { out.append(0x28); for i in items { write(i, into: &out) }; out.append(0x65) }
        case .tuple(let items):
            switch items.count {
            case 0: out.append(0x29)
            case 1...3: for i in items { write(i, into: &out) }; out.append(0x84 + UInt8(items.count))
            default: out.append(0x28); for i in items { write(i, into: &out) }; out.append(0x74)
            }
        case .dict(let items):
            out.append(0x7D)
            if !items.isEmpty {
                out.append(0x28)
                for (k, v) in items { write(k, into: &out); write(v, into: &out) }
                out.append(0x75)
            }
        case .array(let a):
            global("numpy.core.multiarray", "_reconstruct", &out)
            global("numpy", "ndarray", &out)
            out.append(0x4B); out.append(0); out.append(0x85) // (0,)
            bytes(Data("b".utf8), &out)
            out.append(0x87); out.append(0x52) // TUPLE3 REDUCE
            out.append(0x28) // state: MARK 1 shape dtype fortran data TUPLE
            out.append(0x4B); out.append(1)
            write(.tuple(a.shape.map { .int(Int64($0)) }), into: &out)
            global("numpy", "dtype", &out)
            str(String(a.kind) + String(a.itemSize),
                &out); out.append(0x89); out.append(0x88); out.append(0x87); out.append(0x52)
            out.append(0x28); out.append(0x4B); out.append(3)
            str(a.itemSize == 1 ? "|" : a.bigEndian ? ">" : "<", &out)
            out += [0x4E, 0x4E, 0x4E]
            out.append(0x4A); le(UInt64(bitPattern: -1), 4, &out)
            out.append(0x4A); le(UInt64(bitPattern: -1), 4, &out)
            out.append(0x4B); out.append(0)
            out.append(0x74); out.append(0x62) // dtype state TUPLE, BUILD
            out.append(0x89) // not Fortran
            bytes(a.data, &out)
            out.append(0x74); out.append(0x62)
        }
    }
}

extension PyValue {
    /// The value as JSON text: lists and tuples as arrays, dicts as objects (keys as strings), bytes as
    /// `{"base64": ...}`, numpy arrays as `{"dtype", "shape", "values"}`.
    public var jsonText: String {
        switch self {
        case .none: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .float(let f): return f.isFinite ? "\(f)" : "null"
        case .str(let s): return PyValue.quote(s)
        case .bytes(let d): return "{\"base64\":\"\(d.base64EncodedString())\"}"
        case .list(let items), .tuple(let items): return "[" + items.map(\.jsonText).joined(separator: ",") + "]"
        case .dict(let items):
            return "{" + items.map { k, v in
                let key: String
                if case .str(let s) = k { key = s } else { key = k.jsonText }
                return PyValue.quote(key) + ":" + v.jsonText
            }.joined(separator: ",") + "}"
        case .array(let a):
            let values = a.doubles.map { "[" + $0.map { $0.isFinite ? "\($0)" : "null" }.joined(separator: ",") + "]" }
                ?? "null"
            return "{\"dtype\":\"\(a.typeString)\","
                + "\"shape\":[\(a.shape.map(String.init).joined(separator: ","))],\"values\":\(values)}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
