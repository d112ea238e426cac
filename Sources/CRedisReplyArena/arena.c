#include "CRedisReplyArena.h"
#include <hiredis/hiredis.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct chunk {
    struct chunk *previous;
    size_t capacity;
    size_t used;
    size_t padding; /* the data starts 16-byte aligned */
} chunk;

struct streamkit_reply_arena {
    chunk *top;
    size_t retain;
    /* Bytes needed by the largest read since the last release to an empty arena. */
    size_t wanted;
};

static chunk *chunk_new(chunk *previous, size_t capacity) {
    chunk *c = malloc(sizeof(chunk) + capacity);
    if (c == NULL) return NULL;
    c->previous = previous;
    c->capacity = capacity;
    c->used = 0;
    return c;
}

static size_t total_capacity(const chunk *c) {
    size_t n = 0;
    for (; c != NULL; c = c->previous) n += c->capacity;
    return n;
}

streamkit_reply_arena *streamkit_reply_arena_create(size_t initial_capacity, size_t retain_capacity) {
    streamkit_reply_arena *a = malloc(sizeof *a);
    if (a == NULL) return NULL;
    a->top = chunk_new(NULL, initial_capacity < 64 ? 64 : initial_capacity);
    if (a->top == NULL) { free(a); return NULL; }
    a->retain = retain_capacity;
    a->wanted = 0;
    return a;
}

void streamkit_reply_arena_destroy(streamkit_reply_arena *a) {
    if (a == NULL) return;
    chunk *c = a->top;
    while (c != NULL) { chunk *p = c->previous; free(c); c = p; }
    free(a);
}

streamkit_reply_arena_mark streamkit_reply_arena_mark_now(const streamkit_reply_arena *a) {
    streamkit_reply_arena_mark m = { a->top, a->top->used };
    return m;
}

void streamkit_reply_arena_release(streamkit_reply_arena *a, streamkit_reply_arena_mark m) {
    size_t needed = 0;
    for (chunk *c = a->top; c != NULL; c = c->previous) needed += c->used;
    if (needed > a->wanted) a->wanted = needed;
    while (a->top != (chunk *)m.chunk) {
        chunk *c = a->top;
        a->top = c->previous;
        free(c);
    }
    a->top->used = m.used;
    /* Back to an empty arena: grow its one chunk to what the largest read needed (within the
       retain limit), so that the next such read allocates nothing; shrink one that outgrew it. */
    if (a->top->previous == NULL && m.used == 0) {
        size_t want = a->wanted + a->wanted / 4;
        if (want > a->retain) want = a->retain;
        if (want > a->top->capacity || a->top->capacity > a->retain) {
            chunk *c = chunk_new(NULL, want < 64 ? 64 : want);
            if (c != NULL) { free(a->top); a->top = c; }
        }
        a->wanted = 0;
    }
}

size_t streamkit_reply_arena_capacity(const streamkit_reply_arena *a) { return total_capacity(a->top); }

static void *arena_alloc(streamkit_reply_arena *a, size_t n) {
    n = (n + 15) & ~(size_t)15;
    chunk *c = a->top;
    if (c->capacity - c->used < n) {
        size_t capacity = c->capacity * 2;
        if (capacity < n) capacity = n;
        c = chunk_new(c, capacity);
        if (c == NULL) return NULL;
        a->top = c;
    }
    void *p = (char *)(c + 1) + c->used;
    c->used += n;
    return p;
}

/* The reply objects hiredis's own functions build (type, payload, link into the parent array),
   allocated in the arena. */
static redisReply *reply_new(const redisReadTask *task, int type, size_t extra) {
    redisReply *r = arena_alloc(task->privdata, sizeof(redisReply) + extra);
    if (r == NULL) return NULL;
    memset(r, 0, sizeof(redisReply));
    r->type = type;
    if (task->parent != NULL) {
        redisReply *parent = task->parent->obj;
        parent->element[task->idx] = r;
    }
    return r;
}

static void *create_string(const redisReadTask *task, char *str, size_t len) {
    redisReply *r = reply_new(task, task->type, len + 1);
    if (r == NULL) return NULL;
    char *buf = (char *)(r + 1);
    memcpy(buf, str, len);
    buf[len] = '\0';
    r->str = buf;
    r->len = len;
    return r;
}

static void *create_array(const redisReadTask *task, int elements) {
    size_t n = elements > 0 ? (size_t)elements : 0;
    redisReply *r = reply_new(task, REDIS_REPLY_ARRAY, n * sizeof(redisReply *));
    if (r == NULL) return NULL;
    r->elements = n;
    if (n > 0) {
        r->element = (redisReply **)(r + 1);
        memset(r->element, 0, n * sizeof(redisReply *));
    }
    return r;
}

static void *create_integer(const redisReadTask *task, long long value) {
    redisReply *r = reply_new(task, REDIS_REPLY_INTEGER, 0);
    if (r != NULL) r->integer = value;
    return r;
}

static void *create_nil(const redisReadTask *task) { return reply_new(task, REDIS_REPLY_NIL, 0); }

/* Released with the arena's mark, not one by one. */
static void free_object(void *reply) { (void)reply; }

static redisReplyObjectFunctions arena_functions = {
    create_string, create_array, create_integer, create_nil, free_object,
};

void streamkit_reply_arena_attach(void *reader, streamkit_reply_arena *arena) {
    redisReader *r = reader;
    r->fn = &arena_functions;
    r->privdata = arena;
}
