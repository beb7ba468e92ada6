import CBLAS
import TensorKit

/// Full SVD of a row-major m×n matrix through LAPACK `sgesdd_` (divide and conquer, OpenBLAS).
///
/// A = U · diag(S) · Vᵀ with U m×m and V n×n orthogonal and S (min(m, n) values) descending.
/// LAPACK is column-major: the row-major input is transposed into a column-major buffer first, and
/// the column-major U and Vᵀ are transposed back, so callers see ordinary row-major tensors.
/// Singular vectors are unique only up to sign (and, for repeated singular values, up to a rotation
/// within their subspace); callers must not depend on that choice.
public struct SingularValueDecomposition: Sendable {
    /// [m, m] left singular vectors (columns).
    public var u: Tensor
    /// min(m, n) singular values, descending.
    public var s: [Float]
    /// [n, n] right singular vectors transposed (rows).
    public var vt: Tensor

    public init(_ a: Tensor) throws(ContinualError) {
        guard a.rank == 2 else { throw .invalidParameters(name: "svd", reason: "needs a 2-D tensor, got shape \(a.shape)") }
        let (m, n) = (a.shape[0], a.shape[1])
        guard m > 0 && n > 0 else { throw .invalidParameters(name: "svd", reason: "empty matrix \(a.shape)") }
        guard a.storage.allSatisfy(\.isFinite) else { throw .invalidParameters(name: "svd", reason: "non-finite entries") }
        // Column-major copy: element (i, j) at i + j·m.
        var colMajor = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { colMajor[i + j * m] = a.storage[i * n + j] } }
        let k = min(m, n)
        var s = [Float](repeating: 0, count: k)
        var u = [Float](repeating: 0, count: m * m)
        var vt = [Float](repeating: 0, count: n * n)
        var iwork = [Int32](repeating: 0, count: 8 * k)
        var jobz: CChar = 65 // "A": all m columns of U and all n rows of Vᵀ
        var mm = Int32(m), nn = Int32(n), lda = Int32(m), ldu = Int32(m), ldvt = Int32(n)
        var info: Int32 = 0
        // Workspace query (lwork = −1), then the decomposition.
        var query: Float = 0
        var lwork: Int32 = -1
        sgesdd_(&jobz, &mm, &nn, &colMajor, &lda, &s, &u, &ldu, &vt, &ldvt, &query, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgesdd_ (workspace query)", info: Int(info)) }
        lwork = Int32(query.rounded(.up))
        var work = [Float](repeating: 0, count: max(1, Int(lwork)))
        sgesdd_(&jobz, &mm, &nn, &colMajor, &lda, &s, &u, &ldu, &vt, &ldvt, &work, &lwork, &iwork, &info)
        guard info == 0 else { throw .lapack(routine: "sgesdd_", info: Int(info)) }
        // Back to row-major: U(i, j) = u[i + j·m], Vᵀ(i, j) = vt[i + j·n].
        var uRow = [Float](repeating: 0, count: m * m)
        for i in 0..<m { for j in 0..<m { uRow[i * m + j] = u[i + j * m] } }
        var vtRow = [Float](repeating: 0, count: n * n)
        for i in 0..<n { for j in 0..<n { vtRow[i * n + j] = vt[i + j * n] } }
        self.u = Tensor(unchecked: [m, m], storage: uRow)
        self.s = s
        self.vt = Tensor(unchecked: [n, n], storage: vtRow)
    }
}
