#ifndef CSTREAMKIT_SHIMS_H
#define CSTREAMKIT_SHIMS_H
/// Hints the CPU to load the cache line at `p` (no fault on any address). Swift inlines this.
static inline void streamkit_prefetch(const void *p) { __builtin_prefetch(p, 1, 3); }
#endif
