// What the processor and the operating system support, asked at run time (cpuid, xgetbv).
#ifndef FACET_CPU_FEATURES_H
#define FACET_CPU_FEATURES_H

/// 1 when AVX-512 F and BW can run: the processor has them and the OS saves the ZMM state.
int facet_cpu_has_avx512(void);

#endif
