// What the processor and the operating system support, asked at run time (cpuid, xgetbv).
#ifndef FACET_CPU_FEATURES_H
#define FACET_CPU_FEATURES_H

/// 1 when AVX-512 F and BW can run: the processor has them and the OS saves the ZMM state.
int facet_cpu_has_avx512(void);

/// Asks the processor to bring the `bytes` bytes from `p` into its caches (a hint: no fault, no result).
/// Inlined where it is called; for loops whose next addresses are known well before they are read.
static inline void facet_prefetch(const void *p, long bytes) {
    const char *c = (const char *)p;
    for (long i = 0; i < bytes; i += 64) __builtin_prefetch(c + i, 0, 3);
    __builtin_prefetch(c + bytes - 1, 0, 3);
}

#endif
