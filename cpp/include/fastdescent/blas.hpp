// Matrix products through a BLAS the caller supplies: the core links none. The bindings hand in
// the Fortran gemm that SciPy already ships (scipy.linalg.cython_blas), so a wheel carries no
// BLAS of its own; without one, a plain loop keeps the core usable (tests, tools).
#pragma once
#include <cstdint>
#include <limits>
#include <stdexcept>

namespace fastdescent {

// Fortran gemm: C = alpha op(A) op(B) + beta C on column-major matrices, every argument by
// pointer (the reference BLAS interface; LP64: 32-bit integers).
template <class T>
using FortranGemm = void (*)(char* transa, char* transb, int* m, int* n, int* k, T* alpha, T* a,
                             int* lda, T* b, int* ldb, T* beta, T* c, int* ldc);

template <class T>
struct Gemm {
    FortranGemm<T> fortran = nullptr;

    // Row-major C (m x n) = alpha op(A) op(B) + beta C, where op(A) is m x k (A is stored k x m
    // when trans_a) and op(B) is k x n; ld* are the row strides. A row-major matrix is its
    // transpose in column-major order, so this is C^T = op(B)^T op(A)^T for Fortran.
    void operator()(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                    T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                    T* C, std::int64_t ldc) const {
        if (m == 0 || n == 0) return;
        // An empty inner dimension (C = beta C) goes to the loops: Fortran's leading-dimension
        // rules have no good answer for an empty operand.
        if (!fortran || k == 0)
            return loops(trans_a, trans_b, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
        for (std::int64_t v : {m, n, k, lda, ldb, ldc})
            if (v > std::numeric_limits<int>::max())
                throw std::invalid_argument("a matrix dimension exceeds the BLAS's 32-bit range");
        char ta = trans_b ? 'T' : 'N', tb = trans_a ? 'T' : 'N';
        int M = int(n), N = int(m), K = int(k), LA = int(ldb), LB = int(lda), LC = int(ldc);
        T al = alpha, be = beta;
        fortran(&ta, &tb, &M, &N, &K, &al, const_cast<T*>(B), &LA, const_cast<T*>(A), &LB, &be, C,
                &LC);
    }

private:
    static void loops(bool trans_a, bool trans_b, std::int64_t m, std::int64_t n, std::int64_t k,
                      T alpha, const T* A, std::int64_t lda, const T* B, std::int64_t ldb, T beta,
                      T* C, std::int64_t ldc) {
        for (std::int64_t i = 0; i < m; ++i)
            for (std::int64_t j = 0; j < n; ++j) {
                T s = 0;
                for (std::int64_t p = 0; p < k; ++p)
                    s += (trans_a ? A[p * lda + i] : A[i * lda + p]) *
                         (trans_b ? B[j * ldb + p] : B[p * ldb + j]);
                C[i * ldc + j] = alpha * s + (beta == T(0) ? T(0) : beta * C[i * ldc + j]);
            }
    }
};

}  // namespace fastdescent
