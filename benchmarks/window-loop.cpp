// The single-threaded C++ loop of the standard workload (shared/WORKLOAD.md): parse each
// Debezium line (hand-rolled field scan), watermark = max(ts) - 2000 after every event, hopping
// windows 5 min / 1 min per user_id (1-minute panes, open addressing user -> slot, a ring of 8
// panes per slot), count/sum/avg/max fired when watermark >= end - 1, rest at end of input.
// Prints one JSON object with events_per_s and the checksums of WORKLOAD.md section 3.
// Build: g++ -O2 -std=c++17 -o .build/window-loop benchmarks/window-loop.cpp
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>
#include <map>

static const int64_t kPane = 60000, kPanes = 5;

struct Cell { int64_t pane = INT64_MIN; int64_t count = 0; double sum = 0, max = 0; };

struct Slots {  // open addressing: user id -> slot
    std::vector<int64_t> keys; std::vector<int32_t> slots; size_t mask;
    int32_t next = 0;
    Slots() : keys(1 << 18, INT64_MIN), slots(1 << 18, -1), mask((1 << 18) - 1) {}
    int32_t get(int64_t k) {
        size_t h = (uint64_t(k) * 0x9E3779B97F4A7C15ull) >> 40;
        for (;;) {
            h &= mask;
            if (keys[h] == k) return slots[h];
            if (keys[h] == INT64_MIN) { keys[h] = k; slots[h] = next; return next++; }
            ++h;
        }
    }
};

static const char* field(const char* p, const char* end, const char* name, size_t n) {
    const char* q = (const char*)memmem(p, end - p, name, n);
    return q ? q + n : nullptr;
}

int main(int argc, char** argv) {
    if (argc < 2) { fprintf(stderr, "usage: window-loop FILE\n"); return 2; }
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0) { perror(argv[1]); return 1; }
    struct stat st; fstat(fd, &st);
    const char* data = (const char*)mmap(nullptr, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    auto t0 = std::chrono::steady_clock::now();
    Slots slots;
    std::vector<int64_t> users;           // slot -> user id
    std::vector<Cell> ring;               // slot * 8 + pane % 8
    std::vector<int64_t> lastFired;       // slot -> window end last emitted (dedup across pane lists)
    std::map<int64_t, std::vector<int32_t>> paneSlots;  // pane -> slots with data
    int64_t maxTs = INT64_MIN, wm = INT64_MIN, nextEnd = INT64_MIN, events = 0;
    int64_t rows = 0, sumCount = 0; double sumSum = 0, sumAvg = 0, sumMax = 0;
    auto fire = [&](int64_t e) {
        int64_t last = e / kPane - 1;
        for (int64_t q = last - kPanes + 1; q <= last; ++q) {
            auto it = paneSlots.find(q);
            if (it == paneSlots.end()) continue;
            for (int32_t s : it->second) {
                if (lastFired[s] == e) continue;
                lastFired[s] = e;
                int64_t c = 0; double sum = 0, mx = -1e300;
                for (int64_t r = last - kPanes + 1; r <= last; ++r) {
                    Cell& cell = ring[size_t(s) * 8 + (r & 7)];
                    if (cell.pane != r) continue;
                    c += cell.count; sum += cell.sum; if (cell.max > mx) mx = cell.max;
                }
                rows++; sumCount += c; sumSum += sum; sumAvg += sum / c; sumMax += mx;
            }
        }
        paneSlots.erase(last - kPanes + 1);  // its last window fired
    };
    auto advance = [&](int64_t w) {
        while (nextEnd != INT64_MIN && nextEnd - 1 <= w) {
            fire(nextEnd);
            nextEnd += kPane;
            if (paneSlots.empty() || nextEnd / kPane - kPanes > paneSlots.rbegin()->first) { nextEnd = INT64_MIN; break; }
        }
        wm = w;
    };
    const char* p = data; const char* end = data + st.st_size;
    while (p < end) {
        const char* nl = (const char*)memchr(p, '\n', end - p);
        if (!nl) nl = end;
        const char* after = field(p, nl, "\"after\":", 8);
        const char* u = after ? field(after, nl, "\"user_id\":", 10) : nullptr;
        const char* a = u ? field(u, nl, "\"amount\":", 9) : nullptr;
        const char* t = a ? field(a, nl, "\"ts_ms\":", 8) : nullptr;
        if (t) {
            int64_t user = strtoll(u, nullptr, 10);
            double amount = strtod(a, nullptr);
            int64_t ts = strtoll(t, nullptr, 10);
            events++;
            int64_t pane = ts / kPane;
            if (pane * kPane + kPanes * kPane - 1 > wm) {  // not late for its newest window
                int32_t s = slots.get(user);
                if (s == (int32_t)users.size()) { users.push_back(user); ring.resize(ring.size() + 8); lastFired.push_back(INT64_MIN); }
                Cell& cell = ring[size_t(s) * 8 + (pane & 7)];
                if (cell.pane != pane) { cell = Cell(); cell.pane = pane; paneSlots[pane].push_back(s); }
                cell.count++; cell.sum += amount; if (cell.count == 1 || amount > cell.max) cell.max = amount;
                int64_t firstEnd = (pane + 1) * kPane;
                if (firstEnd - 1 > wm && (nextEnd == INT64_MIN || firstEnd < nextEnd)) nextEnd = firstEnd;
            }
            if (ts > maxTs) { maxTs = ts; if (maxTs - 2000 > wm) advance(maxTs - 2000); }
        }
        p = nl + 1;
    }
    advance(INT64_MAX - kPane * 10);
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    printf("{\"events\":%lld,\"seconds\":%.3f,\"events_per_s\":%.0f,\"out_rows\":%lld,\"sum_count\":%lld,\"sum_sum\":%.2f,\"sum_avg\":%.4f,\"sum_max\":%.2f}\n",
           (long long)events, secs, events / secs, (long long)rows, (long long)sumCount, sumSum, sumAvg, sumMax);
    return 0;
}
