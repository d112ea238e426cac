#ifndef CREDIS_REPLY_ARENA_H
#define CREDIS_REPLY_ARENA_H
#include <stddef.h>

/// Where a hiredis reader builds its replies instead of one `malloc` per reply object and string:
/// a stack of bump-allocated chunks. A read takes a mark, reads, uses the replies in place and
/// releases back to its mark; reads nest (a read inside another read's use of its replies
/// allocates above it). After the first reads the chunk is large enough and a read allocates
/// nothing. Objects built here are never passed to `freeReplyObject`.
typedef struct streamkit_reply_arena streamkit_reply_arena;

/// A position in the arena to release back to.
typedef struct streamkit_reply_arena_mark {
    void *chunk;
    size_t used;
} streamkit_reply_arena_mark;

/// An arena with one chunk of `initial_capacity` bytes that keeps at most `retain_capacity`
/// bytes between reads (a larger reply's chunks are freed when it is released). NULL when out
/// of memory.
streamkit_reply_arena *streamkit_reply_arena_create(size_t initial_capacity, size_t retain_capacity);
void streamkit_reply_arena_destroy(streamkit_reply_arena *arena);
streamkit_reply_arena_mark streamkit_reply_arena_mark_now(const streamkit_reply_arena *arena);
/// Frees everything allocated since `mark`.
void streamkit_reply_arena_release(streamkit_reply_arena *arena, streamkit_reply_arena_mark mark);
/// Bytes of the chunks the arena holds now (for tests: steady state, growth, retain limit).
size_t streamkit_reply_arena_capacity(const streamkit_reply_arena *arena);
/// Makes `reader` (a hiredis `redisReader *`) build its replies in `arena`.
void streamkit_reply_arena_attach(void *reader, streamkit_reply_arena *arena);
#endif
