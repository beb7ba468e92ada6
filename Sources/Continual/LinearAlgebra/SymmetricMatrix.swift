import CBLAS

/// Dense symmetric n×n matrices in Float64 through LAPACK (OpenBLAS): the eigendecomposition (`dsyevd_`), the
/// pseudo-inverse built on it, and the Cholesky solve (`dposv_`) with an LU fallback (`dgesv_`). A symmetric matrix reads the same row- or
/// column-major, so the arrays are passed to LAPACK as they are (only the full matrix is accepted).
enum SymmetricMatrix {
    /// Eigenvalues (ascending) and eigenvectors: column i of `vectors` (n×n, column-major) belongs to `values[i]`.
    struct Eigen {
        var values: [Double]
        var vectors: [Double]
    }

    static func eigen(_ a: [Double], n: Int) throws(ContinualError) -> Eigen {
        guard n > 0, a.count == n * n else { throw .invalidParameters(name: "eigen", reason: "expected \(n)×\(n) values, got \(a.count)") }
        guard a.allSatisfy(\.isFinite) else { throw .invalidParameters(name: "eigen", reason: "non-finite entries") }
        var vectors = a, values = [Double](repeating: 0, count: n)
        var jobz: CChar = 86 /* V */, uplo: CChar = 85 /* U */
        var nn = Int32(n), lda = Int32(n), info: Int32 = 0
        var query = 0.0, lwork: Int32 = -1, iquery: Int32 = 0, liwork: Int32 = -1
        dsyevd_(&jobz, &uplo, &nn, &vectors, &lda, &values, &query, &lwork, &iquery, &liwork, &info)
        guard info == 0 else { throw .lapack(routine: "dsyevd_ (workspace query)", info: Int(info)) }
        lwork = Int32(query.rounded(.up))
        liwork = iquery
        var work = [Double](repeating: 0, count: Int(lwork)), iwork = [Int32](repeating: 0, count: Int(liwork))
        dsyevd_(&jobz, &uplo, &nn, &vectors, &lda, &values, &work, &lwork, &iwork, &liwork, &info)
        guard info == 0 else { throw .lapack(routine: "dsyevd_", info: Int(info)) }
        return Eigen(values: values, vectors: vectors)
    }

    /// The Moore–Penrose pseudo-inverse, as `numpy.linalg.pinv` (rcond 1e-15): eigenvalues with |λ| ≤ 1e-15 · max|λ|
    /// count as zero.
    static func pseudoInverse(_ a: [Double], n: Int) throws(ContinualError) -> [Double] {
        let e = try eigen(a, n: n)
        let cutoff = 1e-15 * (e.values.map(abs).max() ?? 0)
        var out = [Double](repeating: 0, count: n * n)
        for k in 0..<n where abs(e.values[k]) > cutoff {
            let inv = 1 / e.values[k]
            e.vectors.withUnsafeBufferPointer { v in
                // out += inv · v_k v_kᵀ (rank-one update of the symmetric result).
                cblas_dsyr(CblasColMajor, CblasUpper, Int32(n), inv, v.baseAddress! + k * n, 1, &out, Int32(n))
            }
        }
        for i in 0..<n { for j in 0..<i { out[i + j * n] = out[j + i * n] } }  // mirror the upper triangle
        return out
    }

    /// X with A·X = B for a symmetric A (n×n) and B (n×columns, column-major): Cholesky, or LU with partial pivoting
    /// (as `torch.linalg.solve`) when rounding has made A not positive definite (G + λI with a tiny λ and a G of
    /// lower rank).
    static func solveSymmetric(_ a: [Double], n: Int, rhs b: [Double], columns: Int) throws(ContinualError) -> [Double] {
        guard a.count == n * n, b.count == n * columns else {
            throw .invalidParameters(name: "solve", reason: "sizes \(a.count), \(b.count) do not fit n = \(n), \(columns) columns")
        }
        do { return try solvePositiveDefinite(a, n: n, rhs: b, columns: columns) } catch let e {
            guard case .invalidParameters = e else { throw e }  // not positive definite: try LU below
        }
        var lu = a, x = b, pivots = [Int32](repeating: 0, count: n)
        var nn = Int32(n), nrhs = Int32(columns), lda = Int32(n), ldb = Int32(n), info: Int32 = 0
        dgesv_(&nn, &nrhs, &lu, &lda, &pivots, &x, &ldb, &info)
        guard info == 0 else {
            throw info > 0 ? .invalidParameters(name: "solve", reason: "the matrix is singular (U(\(info), \(info)) = 0)")
                           : .lapack(routine: "dgesv_", info: Int(info))
        }
        return x
    }

    /// X with A·X = B for a symmetric positive definite A (n×n) and B (n×columns, column-major); Cholesky.
    static func solvePositiveDefinite(_ a: [Double], n: Int, rhs b: [Double], columns: Int) throws(ContinualError) -> [Double] {
        guard a.count == n * n, b.count == n * columns else {
            throw .invalidParameters(name: "solve", reason: "sizes \(a.count), \(b.count) do not fit n = \(n), \(columns) columns")
        }
        var factor = a, x = b
        var uplo: CChar = 85 /* U */
        var nn = Int32(n), nrhs = Int32(columns), lda = Int32(n), ldb = Int32(n), info: Int32 = 0
        dposv_(&uplo, &nn, &nrhs, &factor, &lda, &x, &ldb, &info)
        guard info == 0 else {
            throw info > 0 ? .invalidParameters(name: "solve", reason: "the matrix is not positive definite (leading minor \(info))")
                           : .lapack(routine: "dposv_", info: Int(info))
        }
        return x
    }
}
