import Continual
import Testing
import TensorKit

private func tensor(_ rows: [[Float]]) -> Tensor {
    Tensor(unchecked: [rows.count, rows[0].count], storage: rows.flatMap { $0 })
}

private func close(_ a: Tensor, _ b: Tensor, _ tolerance: Float = 1e-5) -> Bool {
    guard let d = a.maxAbsDifference(b) else { return false }
    return d <= tolerance
}

@Suite struct TopKRetentionTests {
    // old = [[1, 2], [3, 4]], new = [[1.5, 2], [2, 4.5]]
    // Δ = [[0.5, 0], [−1, 0.5]], |Δ| by flat index = [0.5, 0, 1, 0.5]
    let old = tensor([[1, 2], [3, 4]])
    let new = tensor([[1.5, 2], [2, 4.5]])

    @Test func keepsLargestChangesAndBreaksTiesByLowerIndex() throws {
        // ρ = 0.5 ⇒ k = ⌈0.5·4⌉ = 2: index 2 (|Δ| = 1), then the tie 0 vs 3 (both 0.5) → index 0.
        // Entries 0 and 2 take the new value, 1 and 3 revert: [[1.5, 2], [2, 4]].
        let r = try RetentionRule.topK(rho: 0.5).apply(old: old, new: new)
        #expect(r.storage == [1.5, 2, 2, 4])
        // ρ = 0.3 ⇒ k = ⌈1.2⌉ = 2: same result.
        #expect(try RetentionRule.topK(rho: 0.3).apply(old: old, new: new).storage == [1.5, 2, 2, 4])
        // ρ = 0.25 ⇒ k = 1: only index 2 changes: [[1, 2], [2, 4]].
        #expect(try RetentionRule.topK(rho: 0.25).apply(old: old, new: new).storage == [1, 2, 2, 4])
        // ρ = 0.75 ⇒ k = 3: indices 2, 0, 3 (the unchanged index 1 is the same either way): new.
        #expect(try RetentionRule.topK(rho: 0.75).apply(old: old, new: new).storage == [1.5, 2, 2, 4.5])
    }

    @Test func rhoZeroKeepsOldAndRhoOneKeepsNew() throws {
        #expect(try RetentionRule.topK(rho: 0).apply(old: old, new: new) == old)
        #expect(try RetentionRule.topK(rho: 1).apply(old: old, new: new) == new)
    }

    @Test func keptCountIsCeilingWithoutFloatingPointDrift() {
        // 0.3 · 10 = 3.0000000000000004 in Double; ⌈·⌉ must still be 3.
        #expect(RetentionRule.keptCount(rho: 0.3, count: 10) == 3)
        #expect(RetentionRule.keptCount(rho: 0.7, count: 10) == 7)
        #expect(RetentionRule.keptCount(rho: 0.3, count: 4) == 2)   // ⌈1.2⌉
        #expect(RetentionRule.keptCount(rho: 0.1, count: 262_144) == 26_215) // ⌈26214.4⌉ (512×512 adapter)
        #expect(RetentionRule.keptCount(rho: 0, count: 5) == 0)
        #expect(RetentionRule.keptCount(rho: 1, count: 5) == 5)
    }

    @Test func allTiesKeepTheFirstIndices() throws {
        // |Δ| = 1 everywhere; ρ = 0.5 of 4 ⇒ indices 0 and 1 take the new value.
        let o = tensor([[0, 0], [0, 0]]), n = tensor([[1, -1], [1, -1]])
        #expect(try RetentionRule.topK(rho: 0.5).apply(old: o, new: n).storage == [1, -1, 0, 0])
    }

    @Test func rejectsShapeMismatchAndBadRho() {
        #expect(throws: ContinualError.self) { try RetentionRule.topK(rho: 0.5).apply(old: old, new: Tensor([1, 2, 3, 4])) }
        #expect(throws: ContinualError.self) { try RetentionRule.topK(rho: 1.5).apply(old: old, new: new) }
    }
}

@Suite struct SoftRetentionTests {
    // 3×3 example. old = [[0, 0, 0], [1, 1, 1], [2, 2, 2]],
    // Δ = [[0.4, −0.2, 0], [0.1, 0.8, −0.4], [0, 0, 0.2]], new = old + Δ, max|Δ| = 0.8, b = 0.25:
    // |Δ|/max      = [[0.5, 0.25, 0], [0.125, 1, 0.5], [0, 0, 0.25]]
    // M = min(1, ·+b) = [[0.75, 0.5, 0.25], [0.375, 1, 0.75], [0.25, 0.25, 0.5]]
    // θ = M⊙new + (1−M)⊙old = old + M⊙Δ
    //   = [[0.3, −0.1, 0], [1 + 0.0375, 1 + 0.8, 1 − 0.3], [2, 2, 2 + 0.1]]
    //   = [[0.3, −0.1, 0], [1.0375, 1.8, 0.7], [2, 2, 2.1]]
    let old = tensor([[0, 0, 0], [1, 1, 1], [2, 2, 2]])
    let delta = tensor([[0.4, -0.2, 0], [0.1, 0.8, -0.4], [0, 0, 0.2]])

    @Test func handComputedThreeByThree() throws {
        let new = try old + delta
        let r = try RetentionRule.soft(bias: 0.25).apply(old: old, new: new)
        #expect(close(r, tensor([[0.3, -0.1, 0], [1.0375, 1.8, 0.7], [2, 2, 2.1]])))
        // The entry with M = 1 takes the new value exactly.
        #expect(r[1, 1] == new[1, 1])
    }

    @Test func biasAtLeastOneKeepsAllNew() throws {
        let new = try old + delta
        #expect(try RetentionRule.soft(bias: 1).apply(old: old, new: new) == new)
        #expect(try RetentionRule.soft(bias: 2.5).apply(old: old, new: new) == new)
    }

    @Test func noChangeKeepsNew() throws {
        #expect(try RetentionRule.soft(bias: 0).apply(old: old, new: old) == old)
    }

    @Test func vectorTwoEntries() throws {
        // old = [1, 1], new = [3, 1.5]: Δ = [2, 0.5], max 2, b = 0: M = [1, 0.25]
        // θ = [3, 0.25·1.5 + 0.75·1] = [3, 1.125]
        let r = try RetentionRule.soft(bias: 0).apply(old: Tensor([1, 1]), new: Tensor([3, 1.5]))
        #expect(close(r, Tensor([3, 1.125])))
    }
}

@Suite struct SoftSVDRetentionTests {
    @Test func identityOldEqualsSoft() throws {
        // θ_old = I: its SVD has U = I (up to column signs / permutations, which leave the element-wise
        // rule unchanged), so soft-svd must equal soft. With Δ from the 3×3 example above and b = 0.25:
        // θ = I + M⊙Δ = [[1.3, −0.1, 0], [0.0375, 1.8, −0.3], [0, 0, 1.1]].
        let old = Tensor.identity(3)
        let delta = tensor([[0.4, -0.2, 0], [0.1, 0.8, -0.4], [0, 0, 0.2]])
        let new = try old + delta
        let svd = try RetentionRule.softSVD(bias: 0.25).apply(old: old, new: new)
        let soft = try RetentionRule.soft(bias: 0.25).apply(old: old, new: new)
        #expect(close(svd, soft))
        #expect(close(svd, tensor([[1.3, -0.1, 0], [0.0375, 1.8, -0.3], [0, 0, 1.1]])))
    }

    @Test func rotatedBasisHandComputed() throws {
        // An orthogonal θ_old has all singular values 1, so its U is not unique and the rule's result
        // would depend on LAPACK's arbitrary choice. Instead θ_old = Q·diag(3, 1) with the rotation
        // Q = [[0.6, −0.8], [0.8, 0.6]] (cos = 0.6, sin = 0.8): distinct singular values, U = Q up to
        // column signs (which do not change the result), V = I.
        //   θ_old = [[1.8, −0.8], [2.4, 0.6]],   R_old = Qᵀθ_old = diag(3, 1)
        // Choose R_new = [[3.5, 0.25], [−1, 1]] ⇒ θ_new = Q·R_new = [[2.9, −0.65], [2.2, 0.8]]
        //   D = |R_new − R_old| = [[0.5, 0.25], [1, 0]], max 1, b = 0.25 ⇒ M = [[0.75, 0.5], [1, 0.25]]
        //   R = R_old + M⊙(R_new − R_old) = [[3.375, 0.125], [−1, 1]]
        //   θ = Q·R = [[0.6·3.375 + 0.8, 0.6·0.125 − 0.8], [0.8·3.375 − 0.6, 0.8·0.125 + 0.6]]
        //           = [[2.825, −0.725], [2.1, 0.7]]
        // Cross-checked with NumPy:
        //   U, S, Vt = np.linalg.svd(old); d = abs(U.T@new - U.T@old); m = np.minimum(1, d/d.max() + 0.25)
        //   U @ (m*(U.T@new) + (1-m)*(U.T@old))  →  [[2.825, -0.725], [2.1, 0.7]]
        // (Plain soft in W space gives [[2.9, −0.742], [2.314, 0.686]] instead.)
        let old = tensor([[1.8, -0.8], [2.4, 0.6]])
        let new = tensor([[2.9, -0.65], [2.2, 0.8]])
        let r = try RetentionRule.softSVD(bias: 0.25).apply(old: old, new: new)
        #expect(close(r, tensor([[2.825, -0.725], [2.1, 0.7]]), 1e-5))
        let soft = try RetentionRule.soft(bias: 0.25).apply(old: old, new: new)
        #expect(!close(r, soft, 1e-2))
    }

    @Test func threeByThreeAgainstNumPy() throws {
        // old = [[2, 0.5, 1], [0, 1, 0], [1, 0, 3]] (singular values 3.629, 1.495, 0.922),
        // new = old + [[0.1, −0.2, 0], [0.3, 0, −0.1], [0, 0.2, 0.05]], b = 0.3. Expected from NumPy:
        //   U, S, Vt = np.linalg.svd(old)
        //   ro, rn = U.T @ old, U.T @ new; d = np.abs(rn - ro); m = np.minimum(1, d / d.max() + 0.3)
        //   U @ (m * rn + (1 - m) * ro)
        let old = tensor([[2, 0.5, 1], [0, 1, 0], [1, 0, 3]])
        let new = try old + tensor([[0.1, -0.2, 0], [0.3, 0, -0.1], [0, 0.2, 0.05]])
        let r = try RetentionRule.softSVD(bias: 0.3).apply(old: old, new: new)
        let expected = tensor([[2.081237463, 0.29372802, 1.001271836],
                               [0.297900856, 0.969091357, -0.061291697],
                               [0.978477061, 0.170799438, 3.022261052]])
        #expect(close(r, expected, 2e-5))
    }

    @Test func biasAtLeastOneGivesNewBack() throws {
        var rng = RandomGenerator(seed: 5)
        let old = Tensor.normal(shape: [6, 6], using: &rng)
        let new = Tensor.normal(shape: [6, 6], using: &rng)
        #expect(close(try RetentionRule.softSVD(bias: 1).apply(old: old, new: new), new, 1e-4))
    }

    @Test func vectorsFallBackToSoft() throws {
        let r = try RetentionRule.softSVD(bias: 0).apply(old: Tensor([1, 1]), new: Tensor([3, 1.5]))
        #expect(close(r, Tensor([3, 1.125])))
    }

    @Test func svdReconstructsRectangularMatrices() throws {
        // Column-major handling: U S Vᵀ must give back a non-square row-major matrix.
        for shape in [[3, 5], [5, 3], [4, 4]] {
            var rng = RandomGenerator(seed: UInt64(shape[0] * 10 + shape[1]))
            let a = Tensor.normal(shape: shape, using: &rng)
            let svd = try SingularValueDecomposition(a)
            let (m, n) = (shape[0], shape[1])
            #expect(svd.u.shape == [m, m] && svd.vt.shape == [n, n] && svd.s.count == min(m, n))
            #expect(zip(svd.s, svd.s.dropFirst()).allSatisfy { $0 >= $1 })
            var sigma = try Tensor(zeros: [m, n])
            for i in 0..<min(m, n) { sigma[i, i] = svd.s[i] }
            let back = try Tensor.matmul(try Tensor.matmul(svd.u, sigma), svd.vt)
            #expect(close(back, a, 1e-4), "shape \(shape)")
            #expect(close(try Tensor.matmul(svd.u, svd.u, transposeA: true), Tensor.identity(m), 1e-5))
        }
    }

    @Test func rectangularTensorUsesFullBasis() throws {
        // A 4×2 tensor: U is the full 4×4 basis, so b ≥ 1 returns θ_new and b = 0 keeps the largest change.
        var rng = RandomGenerator(seed: 9)
        let old = Tensor.normal(shape: [4, 2], using: &rng)
        let new = Tensor.normal(shape: [4, 2], using: &rng)
        #expect(close(try RetentionRule.softSVD(bias: 1).apply(old: old, new: new), new, 1e-4))
    }

    @Test func rectangularBiasZeroKeepsOnlyTheLargestChangeWhole() throws {
        // θ_old = [[3, 0], [0, 1], [0, 0], [0, 0]]: U's first columns are ±e1, ±e2 (singular values 3, 1), and
        // Δ has nothing in rows 3–4, so whatever basis LAPACK picks for the null space, R there is 0.
        // Δ = [[0.4, −0.2], [0.1, 0.8], 0, 0], max 0.8, b = 0 ⇒ M = [[0.5, 0.25], [0.125, 1], 0, 0]
        // θ = θ_old + M⊙Δ = [[3.2, −0.05], [0.0125, 1.8], [0, 0], [0, 0]]: only the largest change is kept whole.
        let old = tensor([[3, 0], [0, 1], [0, 0], [0, 0]])
        let new = tensor([[3.4, -0.2], [0.1, 1.8], [0, 0], [0, 0]])
        let r = try RetentionRule.softSVD(bias: 0).apply(old: old, new: new)
        #expect(close(r, tensor([[3.2, -0.05], [0.0125, 1.8], [0, 0], [0, 0]]), 1e-5))
    }
}
