#ifndef CSTREAMKIT_SHIMS_H
#define CSTREAMKIT_SHIMS_H
/// Hints the CPU to load the cache line at `p` (no fault on any address). Swift inlines this.
static inline void streamkit_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }
#if defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
/// The calling thread's kernel id (Linux), for per-thread scheduling calls.
static inline int streamkit_gettid(void) { return (int)syscall(SYS_gettid); }
#endif
#endif
