/*
 * kafka-smoke — end-to-end check of the librdkafka runtime against the local broker.
 *
 * Prints which librdkafka is loaded (version and file), creates a topic, produces N messages
 * (acks=all), consumes them back through a consumer group and commits the offsets.
 * Build and run it with scripts/kafka-smoke (compiled against Debian's librdkafka-dev headers,
 * linked with -L.deps/rdkafka -lrdkafka, run with LD_LIBRARY_PATH=.deps/rdkafka).
 *
 * usage: kafka-smoke [brokers] [count]      (brokers default: $KAFKA_BROKERS or 127.0.0.1:19092)
 * exit:  0 ok, 1 failure, 2 runtime librdkafka too old for Tansu (< 2.1)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PARTITIONS 4
#define TIMEOUT_MS 30000

static int delivered_ok = 0, delivered_err = 0;

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *detail) {
    fprintf(stderr, "kafka-smoke: FAILED: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
    exit(1);
}

static void set(rd_kafka_conf_t *conf, const char *k, const char *v) {
    char err[512];
    if (rd_kafka_conf_set(conf, k, v, err, sizeof err) != RD_KAFKA_CONF_OK) die(k, err);
}

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque) {
    (void)rk; (void)opaque;
    if (m->err) {
        if (delivered_err++ == 0)
            fprintf(stderr, "kafka-smoke: delivery failed: %s\n", rd_kafka_err2str(m->err));
    } else {
        delivered_ok++;
    }
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
    (void)rk;
    if (level <= 4) fprintf(stderr, "kafka-smoke: librdkafka %s: %s\n", fac, buf);
}

static void create_topic(const char *brokers, const char *topic) {
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set(conf, "bootstrap.servers", brokers);
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
    if (!rk) die("rd_kafka_new(admin)", err);

    rd_kafka_NewTopic_t *nt = rd_kafka_NewTopic_new(topic, PARTITIONS, 1, err, sizeof err);
    if (!nt) die("NewTopic", err);
    rd_kafka_NewTopic_set_config(nt, "retention.ms", "3600000");
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    rd_kafka_AdminOptions_t *opt = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    rd_kafka_AdminOptions_set_operation_timeout(opt, 10000, err, sizeof err);
    rd_kafka_CreateTopics(rk, &nt, 1, opt, q);

    rd_kafka_event_t *ev = rd_kafka_queue_poll(q, TIMEOUT_MS);
    if (!ev) die("CreateTopics", "timed out (is the broker running? is the runtime librdkafka >= 2.1?)");
    if (rd_kafka_event_error(ev)) die("CreateTopics", rd_kafka_event_error_string(ev));
    size_t n = 0;
    const rd_kafka_topic_result_t **res =
        rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(ev), &n);
    for (size_t i = 0; i < n; i++) {
        rd_kafka_resp_err_t e = rd_kafka_topic_result_error(res[i]);
        if (e && e != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
            die("CreateTopics", rd_kafka_topic_result_error_string(res[i]));
    }
    rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opt);
    rd_kafka_NewTopic_destroy(nt);
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *env = getenv("KAFKA_BROKERS");
    const char *brokers = argc > 1 ? argv[1] : (env && *env ? env : "127.0.0.1:19092");
    int count = argc > 2 ? atoi(argv[2]) : 10;
    if (count <= 0) count = 10;
    char err[512], topic[128], group[160];

    /* Which library did the dynamic loader pick? (a silent fallback to Debian's 2.0.2 is easy to miss) */
    Dl_info info;
    const char *file = dladdr((void *)rd_kafka_version_str, &info) && info.dli_fname ? info.dli_fname : "?";
    printf("librdkafka runtime: %s (0x%08x) from %s; compiled against headers %s\n",
           rd_kafka_version_str(), rd_kafka_version(), file, RD_KAFKA_VERSION == 0x020002ff ? "2.0.2" : "other");
    if (rd_kafka_version() < 0x02010000) {
        fprintf(stderr, "kafka-smoke: runtime librdkafka %s is older than 2.1 and fails against the Tansu broker\n"
                        "  (\"ApiVersionRequest failed: Local: Read underflow\"). Run scripts/setup and use\n"
                        "  LD_LIBRARY_PATH=<repo>/.deps/rdkafka.\n", rd_kafka_version_str());
        if (!getenv("KAFKA_SMOKE_FORCE")) return 2;
    }

    snprintf(topic, sizeof topic, "streamkit-smoke-%ld-%d", (long)time(NULL), (int)getpid());
    snprintf(group, sizeof group, "%s-group", topic);
    printf("broker %s, topic %s (%d partitions), %d messages\n", brokers, topic, PARTITIONS, count);

    double t0 = now_ms();
    create_topic(brokers, topic);
    printf("created topic in %.0f ms\n", now_ms() - t0);

    /* ---- produce */
    rd_kafka_conf_t *pc = rd_kafka_conf_new();
    set(pc, "bootstrap.servers", brokers);
    set(pc, "acks", "all");
    set(pc, "enable.idempotence", "true");
    set(pc, "message.timeout.ms", "15000");
    rd_kafka_conf_set_dr_msg_cb(pc, dr_cb);
    rd_kafka_conf_set_log_cb(pc, log_cb);
    rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
    if (!p) die("rd_kafka_new(producer)", err);
    t0 = now_ms();
    for (int i = 0; i < count; i++) {
        char key[32], val[64];
        snprintf(key, sizeof key, "key-%d", i);
        snprintf(val, sizeof val, "message-%d", i);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, strlen(key)), RD_KAFKA_V_VALUE(val, strlen(val)), RD_KAFKA_V_END);
        if (e) die("produce", rd_kafka_err2str(e));
        rd_kafka_poll(p, 0);
    }
    rd_kafka_flush(p, TIMEOUT_MS);
    rd_kafka_poll(p, 0);
    rd_kafka_destroy(p);
    printf("produced %d/%d (acks=all, idempotent) in %.0f ms\n", delivered_ok, count, now_ms() - t0);
    if (delivered_ok != count) die("produce", "not all messages were delivered");

    /* ---- consume through a consumer group (short session timeout: join takes ~1 s on Tansu) */
    rd_kafka_conf_t *cc = rd_kafka_conf_new();
    set(cc, "bootstrap.servers", brokers);
    set(cc, "group.id", group);
    set(cc, "auto.offset.reset", "earliest");
    set(cc, "enable.auto.commit", "false");
    set(cc, "session.timeout.ms", "2000");
    set(cc, "heartbeat.interval.ms", "500");
    rd_kafka_conf_set_log_cb(cc, log_cb);
    rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
    if (!c) die("rd_kafka_new(consumer)", err);
    rd_kafka_poll_set_consumer(c);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_resp_err_t e = rd_kafka_subscribe(c, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (e) die("subscribe", rd_kafka_err2str(e));

    char *seen = calloc((size_t)count, 1);
    int got = 0;
    t0 = now_ms();
    while (got < count && now_ms() - t0 < TIMEOUT_MS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        if (!m) continue;
        if (m->err) {
            if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "kafka-smoke: consumer: %s\n", rd_kafka_message_errstr(m));
        } else {
            int i = -1;
            char buf[64] = {0};
            memcpy(buf, m->payload, m->len < sizeof buf - 1 ? m->len : sizeof buf - 1);
            if (sscanf(buf, "message-%d", &i) == 1 && i >= 0 && i < count && !seen[i]) {
                seen[i] = 1;
                got++;
            } else {
                fprintf(stderr, "kafka-smoke: unexpected or duplicate message '%s'\n", buf);
            }
        }
        rd_kafka_message_destroy(m);
    }
    printf("consumed %d/%d via consumer group in %.0f ms (includes group join)\n", got, count, now_ms() - t0);
    if (got != count) die("consume", "timed out before all messages arrived");
    e = rd_kafka_commit(c, NULL, 0);
    if (e) die("commit", rd_kafka_err2str(e));
    printf("committed offsets\n");
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
    free(seen);
    printf("kafka: ok (librdkafka %s)\n", rd_kafka_version_str());
    return 0;
}
