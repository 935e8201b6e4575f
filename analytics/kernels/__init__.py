"""numba kernels over numpy arrays: pure, arrays in and arrays out, one JIT policy."""
