#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A seedable pseudo-random generator whose integer stream is identical on every platform:
/// xoshiro256** (Blackman & Vigna) with its 256-bit state filled from a `UInt64` seed by SplitMix64,
/// as the authors recommend.
///
/// Every derived value is defined here on top of `next()` (rather than on the standard library's
/// `random(in:using:)`, whose algorithms may change), so a seed pins down every number drawn.
/// `normal` uses `log`/`cos` from the C library, so it is reproducible on one platform; across
/// platforms it can differ in the last bit.
///
/// The state is four words (`state`, `init(state:)`), so a training run can save it and resume the
/// exact stream.
public struct RandomGenerator: RandomNumberGenerator, Sendable, Equatable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// Seeds the generator: the four state words are the first four outputs of SplitMix64(seed).
    public init(seed: UInt64) {
        var mixer = SplitMix64(state: seed)
        s0 = mixer.next()
        s1 = mixer.next()
        s2 = mixer.next()
        s3 = mixer.next()
        // SplitMix64 outputs are a bijection of distinct counter values, so four zeros cannot occur.
    }

    /// Restores a generator from `state` (four words, not all zero).
    public init(state: [UInt64]) throws(TensorError) {
        guard state.count == 4 else {
            throw .invalidArgument(op: "RandomGenerator", reason: "state needs 4 words, got \(state.count)")
        }
        guard state.contains(where: { $0 != 0 }) else {
            throw .invalidArgument(op: "RandomGenerator", reason: "state must not be all zero")
        }
        (s0, s1, s2, s3) = (state[0], state[1], state[2], state[3])
    }

    /// The full generator state, for checkpoints.
    public var state: [UInt64] { [s0, s1, s2, s3] }

    /// The next 64 random bits (xoshiro256**).
    @inlinable
    public mutating func next() -> UInt64 {
        let result = RandomGenerator.rotateLeft(s1 &* 5, by: 7) &* 9
        let t = s1 << 17
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = RandomGenerator.rotateLeft(s3, by: 45)
        return result
    }

    /// Uniform in [0, 1): the top 24 bits scaled by 2⁻²⁴ (every value is exact in Float).
    @inlinable
    public mutating func uniform() -> Float {
        Float(next() >> 40) * 0x1p-24
    }

    /// Uniform in [0, 1): the top 53 bits scaled by 2⁻⁵³.
    @inlinable
    public mutating func uniformDouble() -> Double {
        Double(next() >> 11) * 0x1p-53
    }

    /// A normal sample by the Box–Muller transform, computed in Double.
    ///
    /// Each call consumes exactly two outputs (u₁, u₂) and returns `mean + std · √(−2 ln(1−u₁)) · cos(2πu₂)`;
    /// the second (sine) value is discarded rather than cached, so the state stays the four words of
    /// `state` and the number of draws per call is fixed.
    public mutating func normal(mean: Float = 0, std: Float = 1) -> Float {
        Float(Double(mean) + Double(std) * normalDouble())
    }

    /// A standard normal sample in Double (same scheme as `normal(mean:std:)`).
    public mutating func normalDouble() -> Double {
        let u1 = 1 - uniformDouble()          // (0, 1], so the log is finite
        let u2 = uniformDouble()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }

    /// Uniform integer in `0..<upperBound`, without bias (Lemire's multiply-and-reject method).
    public mutating func int(below upperBound: Int) -> Int {
        precondition(upperBound > 0, "int(below:) needs a positive bound, got \(upperBound)")
        let bound = UInt64(upperBound)
        var product = next().multipliedFullWidth(by: bound)
        if product.low < bound {
            // Reject the few low-word values that would over-represent some results.
            let threshold = (0 &- bound) % bound
            while product.low < threshold {
                product = next().multipliedFullWidth(by: bound)
            }
        }
        return Int(product.high)
    }

    /// Shuffles `array` in place (Fisher–Yates, from the last index down, using `int(below:)`).
    public mutating func shuffle<T>(_ array: inout [T]) {
        guard array.count > 1 else { return }
        for i in stride(from: array.count - 1, to: 0, by: -1) {
            let j = int(below: i + 1)
            if i != j { array.swapAt(i, j) }
        }
    }

    /// A random permutation of `0..<n`.
    public mutating func permutation(_ n: Int) -> [Int] {
        var p = Array(0..<max(n, 0))
        shuffle(&p)
        return p
    }

    /// A child generator seeded from the next output, for handing independent streams to
    /// sub-tasks in a fixed order. Advances this generator by one step.
    public mutating func split() -> RandomGenerator {
        RandomGenerator(seed: next())
    }

    /// A child generator for stream `stream`, derived from the current state without advancing it.
    /// The same state and stream always give the same child; different streams give unrelated
    /// seeds (the state and stream are mixed through SplitMix64 before seeding).
    public func fork(stream: UInt64) -> RandomGenerator {
        var mixer = SplitMix64(state: s0)
        var seed = mixer.next() ^ s1
        mixer = SplitMix64(state: seed)
        seed = mixer.next() ^ s2
        mixer = SplitMix64(state: seed)
        seed = mixer.next() ^ s3
        mixer = SplitMix64(state: seed)
        seed = mixer.next() ^ stream
        mixer = SplitMix64(state: seed)
        return RandomGenerator(seed: mixer.next())
    }
}

extension RandomGenerator {
    @inlinable @inline(__always)
    static func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 {
        (x << k) | (x >> (64 - k))
    }
}

/// SplitMix64 (Steele, Lea & Flood), used to expand seeds. Its first outputs for seed 1234567 are
/// 6457827717110365317, 3203168211198807973, 9817491932198370423, …
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(state: UInt64) { self.state = state }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
