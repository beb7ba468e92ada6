#include <cblas.h>

// OpenBLAS thread control (declared in openblas_config.h, repeated here for clarity).
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
char *openblas_get_corename(void);

// Fortran LAPACK symbols exported by OpenBLAS (Debian builds it with NO_LAPACKE).
// Single-precision SVD, divide and conquer.
void sgesdd_(const char *jobz, const int *m, const int *n, float *a, const int *lda, float *s, float *u,
             const int *ldu, float *vt, const int *ldvt, float *work, const int *lwork, int *iwork, int *info);
// Double-precision symmetric eigendecomposition (divide and conquer) and Cholesky solve.
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w, double *work,
             const int *lwork, int *iwork, const int *liwork, int *info);
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b, const int *ldb,
            int *info);
// Double-precision Cholesky factorisation.
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
// Double-precision LU solve (general matrix).
void dgesv_(const int *n, const int *nrhs, double *a, const int *lda, int *ipiv, double *b, const int *ldb, int *info);
