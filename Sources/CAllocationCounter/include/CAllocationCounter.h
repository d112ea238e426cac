#ifndef STREAMKIT_ALLOCATION_COUNTER_H
#define STREAMKIT_ALLOCATION_COUNTER_H

/// Counts heap allocations made by the calling thread between start and stop: the binary that
/// links this target has its malloc, calloc, realloc, posix_memalign, aligned_alloc and memalign
/// wrapped (each calls glibc's own implementation). Test support only: link it into test
/// binaries, never into a library or the command-line tool.
void streamkit_allocations_start(void);
/// Allocations by this thread since streamkit_allocations_start; stops counting.
long streamkit_allocations_stop(void);

#endif
