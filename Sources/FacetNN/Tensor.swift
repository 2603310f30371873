/// NHWC float32 tensors: the one buffer type every FacetNN layer reads and writes.
import FacetCore

/// A contiguous float32 array with a shape, batch first (NHWC for images, `[N, features]` for
/// dense data).
///
/// A tensor is a reference type on purpose: layers own their output and gradient buffers and
/// reuse them every iteration (`resize(to:)` only reallocates when the element count grows), so a
/// training step allocates nothing once warmed up. A tensor a layer returns stays valid (and must
/// stay unmodified) until that layer's next `forward` / `backward`.
public final class Tensor: @unchecked Sendable {
    /// Dimensions, outermost first.
    public private(set) var shape: [Int]
    /// Number of elements, the product of `shape`.
    public private(set) var count: Int
    /// Start of the elements; valid for `count` floats until the next `resize(to:)`.
    public private(set) var data: UnsafeMutablePointer<Float>
    private var capacity: Int
    /// Non-nil for a view: the tensor whose memory this one borrows (kept alive by this reference).
    private let base: Tensor?

    /// A zero-filled tensor. Every dimension must be non-negative.
    public init(shape: [Int]) {
        let n = Tensor.elementCount(shape)
        self.shape = shape
        self.count = n
        self.capacity = max(n, 1)
        self.data = .allocate(capacity: capacity)
        self.data.initialize(repeating: 0, count: capacity)
        self.base = nil
    }

    /// A tensor holding `values`, whose count must equal the product of `shape`.
    public convenience init(shape: [Int], values: [Float]) {
        self.init(shape: shape)
        precondition(values.count == count,
                     "Tensor: \(values.count) values do not fill shape \(shape) (\(count) elements)")
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }

    private init(viewOf base: Tensor, offset: Int, shape: [Int]) {
        self.shape = shape
        self.count = Tensor.elementCount(shape)
        self.capacity = count
        self.data = base.data + offset
        self.base = base
    }

    deinit { if base == nil { data.deallocate() } }

    static func elementCount(_ shape: [Int]) -> Int {
        precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative dimension in shape \(shape)")
        return shape.reduce(1, *)
    }

    /// Gives the tensor a new shape, keeping the memory when it is large enough (contents are then
    /// unspecified) and reallocating otherwise. Views cannot be resized.
    public func resize(to newShape: [Int]) {
        if newShape == shape { return }
        let n = Tensor.elementCount(newShape)
        precondition(base == nil || n <= capacity, "Tensor: cannot grow a view from \(shape) to \(newShape)")
        if n > capacity {
            data.deallocate()
            capacity = n
            data = .allocate(capacity: n)
            data.initialize(repeating: 0, count: n)
        }
        shape = newShape
        count = n
    }

    /// A tensor sharing this one's memory with another shape of the same element count.
    public func reshaped(_ newShape: [Int]) -> Tensor {
        let n = Tensor.elementCount(newShape)
        precondition(n == count, "Tensor: cannot reshape \(shape) (\(count) elements) to \(newShape) (\(n) elements)")
        return Tensor(viewOf: self, offset: 0, shape: newShape)
    }

    /// Samples `range` of the batch (the first dimension) as a view sharing this tensor's memory.
    public func batchSlice(_ range: Range<Int>) -> Tensor {
        precondition(!shape.isEmpty && range.lowerBound >= 0 && range.upperBound <= shape[0],
                     "Tensor: batch slice \(range) out of bounds for shape \(shape)")
        let per = shape[0] == 0 ? 0 : count / shape[0]
        var s = shape
        s[0] = range.count
        return Tensor(viewOf: self, offset: range.lowerBound * per, shape: s)
    }

    /// The elements as an array (a copy).
    public var values: [Float] { Array(UnsafeBufferPointer(start: data, count: count)) }

    /// Copies `other`'s elements (same element count required) and takes its shape.
    public func copy(from other: Tensor) {
        resize(to: other.shape)
        data.update(from: other.data, count: count)
    }

    /// Sets every element to `value`.
    public func fill(_ value: Float) { data.update(repeating: value, count: count) }

    /// Element `i` of the flat storage.
    @inlinable public subscript(i: Int) -> Float {
        get { data[i] }
        set { data[i] = newValue }
    }

    /// Number of samples (first dimension).
    public var batch: Int { shape.first ?? 0 }
    /// Elements per sample.
    public var perSample: Int { shape.isEmpty || shape[0] == 0 ? 0 : count / shape[0] }

    /// Checks that this tensor is NHWC with the given channel count (any other dimension when nil),
    /// failing with a message naming `context` otherwise; returns (N, H, W, C).
    @discardableResult
    public func expectNHWC(channels: Int? = nil, height: Int? = nil, width: Int? = nil,
                           _ context: @autoclosure () -> String) -> (n: Int, h: Int, w: Int, c: Int) {
        precondition(shape.count == 4, "\(context()): expected an NHWC tensor, got shape \(shape)")
        if let channels {
            precondition(shape[3] == channels, "\(context()): expected \(channels) channels, got shape \(shape)")
        }
        if let height {
            precondition(shape[1] == height, "\(context()): expected height \(height), got shape \(shape)")
        }
        if let width { precondition(shape[2] == width, "\(context()): expected width \(width), got shape \(shape)") }
        return (shape[0], shape[1], shape[2], shape[3])
    }

    /// Checks that `other` has exactly this tensor's shape.
    public func expectSameShape(_ other: Tensor, _ context: @autoclosure () -> String) {
        precondition(shape == other.shape, "\(context()): shape \(other.shape) does not match \(shape)")
    }
}

/// A tensor as the store keeps it: a path name (`encoder.down1.weight`,
/// `optimizer.acc.encoder.down1.weight`), a shape and row-major float32 values.
public struct NamedTensor: Sendable, Equatable {
    /// The tensor's path (`encoder.down1.weight`, `optimizer.acc.encoder.down1.weight`).
    public var name: String
    /// Its shape, outermost axis first.
    public var shape: [Int]
    /// Its values, row-major.
    public var data: [Float]
    /// A named tensor of `shape` holding `data`.
    public init(name: String, shape: [Int], data: [Float]) {
        self.name = name
        self.shape = shape
        self.data = data
    }
}

extension Tensor {
    /// This tensor's shape and values under `name`.
    public func named(_ name: String) -> NamedTensor { NamedTensor(name: name, shape: shape, data: values) }

    /// Copies `saved` into this tensor, failing when the shape differs.
    func load(_ saved: NamedTensor) throws {
        guard saved.shape == shape else {
            throw FacetError("tensor '\(saved.name)': saved shape \(saved.shape) does not match the model's \(shape); "
                             + "was it saved by a model with other options?")
        }
        guard saved.data.count == count else {
            throw FacetError("tensor '\(saved.name)': \(saved.data.count) values for shape \(saved.shape); "
                             + "the saved data is corrupt")
        }
        saved.data.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: count) }
    }
}
