// A nuPlan-style closed-loop simulator, reduced to its database traffic.
//
// nuPlan's simulation reads each driving log from an SQLite file and, for
// every simulation step, runs a few batches of scenario queries (ego state,
// traffic lights, tracked objects, mission goal, sampled history and future),
// opening a new SQLite connection for each batch. This program runs the same
// step, 145 queries in 8 batches (examples/nuplan/step_queries.sql) against a
// generated nuPlan-shaped log (examples/nuplan/schema.sql + generate.sql),
// twice:
//   (a) the old way: a fresh single-connection sqlpool pool per batch, that is
//       one SQLite open (and schema parse, and statement compiles) per batch;
//   (b) one shared sqlpool pool: connections and compiled statements reused.
// Both must give the same per-step checksum (over every returned value);
// the program prints the time per step, queries per second, connections
// opened per step, the speedup and the pool's statistics.
//
// Exit status: 0 success, 1 a failure or a checksum mismatch, 2 bad flags.

#include <sqlpool.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <unistd.h>
#include <vector>

#ifndef SQLPOOL_NUPLAN_SQL_DIR
#define SQLPOOL_NUPLAN_SQL_DIR "examples/nuplan"
#endif

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

// ---------------------------------------------------------------- flags

struct Flags {
    unsigned threads = 4;
    uint64_t steps = 200;
    std::string db;  // empty: a temporary file, generated and removed
    std::optional<int64_t> frames;  // gen_params.frames when generating
    std::string sql_dir = SQLPOOL_NUPLAN_SQL_DIR;
    uint32_t pool_size = 5;
    int32_t max_overflow = 10;
    uint64_t timeout_ms = 30000;
    bool pre_ping = true;
    int64_t recycle_ms = 3600000;
    bool lifo = false;
    bool read_snapshot = true;
};

const char* const kUsage = R"(usage: simulator [FLAGS]

Runs STEPS nuPlan-style simulation steps (145 read-only queries in 8 batches
each, from step_queries.sql) on THREADS threads, first the old way (a new
SQLite connection per batch, as nuPlan does) and then through one shared
sqlpool pool, checks that both return the same data (a checksum per step) and
prints a comparison and the pool's statistics.

  --threads N         worker threads (default 4); thread t walks its own
                      range of lidar_pc frames, one frame per step
  --steps N           simulation steps in all, split over the threads
                      (default 200)
  --db PATH           the nuPlan-shaped log database; generated there (and
                      kept) if PATH is missing or empty. Default: a temporary
                      file, generated and removed at exit
  --frames N          lidar_pc frames to generate (default: the gen_params
                      default of schema.sql, 2000)
  --sql-dir DIR       where schema.sql, generate.sql and step_queries.sql are
                      (default: )" SQLPOOL_NUPLAN_SQL_DIR R"()

Options of the shared pool (the old way always uses pool_size 1,
max_overflow 0, no pre-ping, no recycling, no read snapshot):
  --pool-size N       connections kept open (default 5)
  --max-overflow N    extra connections allowed under load, -1 = no limit
                      (default 10)
  --timeout-ms N      how long a checkout waits for a connection (default 30000)
  --no-pre-ping       do not check a connection before handing it out
  --recycle-ms N      replace connections older than N ms, -1 = never
                      (default 3600000)
  --lifo              hand out the most recently returned connection first
                      (default: FIFO)
  --no-read-snapshot  run each statement in its own read transaction instead
                      of one read transaction per checkout
  --help              this text

Exit status: 0 success, 1 failure or checksum mismatch, 2 bad flags.
)";

[[noreturn]] void usage_error(const std::string& msg) {
    std::fprintf(stderr, "simulator: %s\n(see simulator --help)\n", msg.c_str());
    std::exit(2);
}

template <class T>
T parse_int(const std::string& flag, const std::string& text, T min, T max) {
    try {
        size_t used = 0;
        long long v = std::stoll(text, &used, 10);
        if (used != text.size() || v < static_cast<long long>(min) ||
            v > static_cast<long long>(max))
            throw std::out_of_range(text);
        return static_cast<T>(v);
    } catch (const std::exception&) {
        std::ostringstream os;
        os << flag << ": expected an integer in [" << +min << ", " << +max << "], got '" << text
           << "'";
        usage_error(os.str());
    }
}

Flags parse_flags(int argc, char** argv) {
    Flags f;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        std::optional<std::string> inline_value;
        if (auto eq = arg.find('='); arg.rfind("--", 0) == 0 && eq != std::string::npos) {
            inline_value = arg.substr(eq + 1);
            arg.resize(eq);
        }
        auto value = [&]() -> std::string {
            if (inline_value) return *inline_value;
            if (i + 1 >= argc) usage_error(arg + " needs a value");
            return argv[++i];
        };
        auto no_value = [&]() {
            if (inline_value) usage_error(arg + " takes no value");
        };
        if (arg == "--help" || arg == "-h") {
            std::fputs(kUsage, stdout);
            std::exit(0);
        } else if (arg == "--threads") {
            f.threads = parse_int<unsigned>(arg, value(), 1, 1024);
        } else if (arg == "--steps") {
            f.steps = parse_int<uint64_t>(arg, value(), 1, 100000000);
        } else if (arg == "--db") {
            f.db = value();
            if (f.db.empty()) usage_error("--db: empty path");
        } else if (arg == "--frames") {
            f.frames = parse_int<int64_t>(arg, value(), 1, 10000000);
        } else if (arg == "--sql-dir") {
            f.sql_dir = value();
        } else if (arg == "--pool-size") {
            f.pool_size = parse_int<uint32_t>(arg, value(), 1, 100000);
        } else if (arg == "--max-overflow") {
            f.max_overflow = parse_int<int32_t>(arg, value(), -1, 100000);
        } else if (arg == "--timeout-ms") {
            f.timeout_ms = parse_int<uint64_t>(arg, value(), 0, 86400000);
        } else if (arg == "--no-pre-ping") {
            no_value();
            f.pre_ping = false;
        } else if (arg == "--recycle-ms") {
            f.recycle_ms = parse_int<int64_t>(arg, value(), -1, INT64_MAX);
        } else if (arg == "--lifo") {
            no_value();
            f.lifo = true;
        } else if (arg == "--no-read-snapshot") {
            no_value();
            f.read_snapshot = false;
        } else {
            usage_error("unknown argument '" + std::string(argv[i]) + "'");
        }
    }
    return f;
}

// ---------------------------------------------------------------- SQL files

std::string read_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot read " + path.string());
    std::ostringstream os;
    os << in.rdbuf();
    return os.str();
}

// The step variables of step_queries.sql.
enum class Var { LidarPcToken, Timestamp, WindowStart, WindowEnd };

struct Query {
    std::string sql;
    std::vector<Var> params;
};
using Batch = std::vector<Query>;

Var parse_var(const std::string& name, const std::string& where) {
    if (name == "lidar_pc_token") return Var::LidarPcToken;
    if (name == "timestamp") return Var::Timestamp;
    if (name == "timestamp_window_start") return Var::WindowStart;
    if (name == "timestamp_window_end") return Var::WindowEnd;
    throw std::runtime_error(where + ": unknown step variable '" + name + "'");
}

// The format is described at the top of step_queries.sql.
std::vector<Batch> parse_step_queries(const fs::path& path) {
    std::istringstream in(read_file(path));
    std::vector<Batch> batches;
    std::string line;
    for (int lineno = 1; std::getline(in, line); ++lineno) {
        if (!line.empty() && line.back() == '\r') line.pop_back();
        const std::string where = path.string() + ":" + std::to_string(lineno);
        const std::string batch_tag = "-- batch ";
        if (line.rfind(batch_tag, 0) == 0) {
            const size_t n = std::strtoul(line.c_str() + batch_tag.size(), nullptr, 10);
            if (n != batches.size() + 1)
                throw std::runtime_error(where + ": expected batch " +
                                         std::to_string(batches.size() + 1));
            batches.emplace_back();
            continue;
        }
        if (line.find_first_not_of(" \t") == std::string::npos || line.rfind("--", 0) == 0)
            continue;
        const std::string params_tag = " -- params:";
        const size_t at = line.rfind(params_tag);
        if (at == std::string::npos) throw std::runtime_error(where + ": no '-- params:'");
        if (batches.empty()) throw std::runtime_error(where + ": a query before '-- batch 1'");
        Query q;
        q.sql = line.substr(0, at);
        std::string names = line.substr(at + params_tag.size());
        names.erase(std::remove(names.begin(), names.end(), ' '), names.end());
        std::istringstream ns(names);
        for (std::string name; std::getline(ns, name, ',');)
            if (!name.empty()) q.params.push_back(parse_var(name, where));
        if (static_cast<size_t>(std::count(q.sql.begin(), q.sql.end(), '?')) != q.params.size())
            throw std::runtime_error(where + ": the number of ? and of params differ");
        batches.back().push_back(std::move(q));
    }
    if (batches.empty()) throw std::runtime_error(path.string() + ": no batches");
    return batches;
}

// ---------------------------------------------------------------- checksum

// splitmix64-style mixing; examples/nuplan/check_sql.py computes the same.
inline uint64_t fold(uint64_t h, uint64_t v) {
    h ^= v;
    h *= 0x9E3779B97F4A7C15ull;
    return h ^ (h >> 29);
}

inline uint64_t fold_bytes(uint64_t h, const void* data, size_t n) {
    uint64_t x = 0xCBF29CE484222325ull;  // FNV-1a
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) x = (x ^ p[i]) * 0x100000001B3ull;
    return fold(fold(h, n), x);
}

uint64_t fold_row(uint64_t h, const sqlpool::Row& row) {
    const int columns = row.column_count();
    for (int i = 0; i < columns; ++i) {
        switch (row.column_type(i)) {
            case SQLPOOL_INTEGER:
                h = fold(h, static_cast<uint64_t>(row.get<int64_t>(i)));
                break;
            case SQLPOOL_FLOAT: {
                const double d = row.get<double>(i);
                uint64_t bits;
                std::memcpy(&bits, &d, sizeof bits);
                h = fold(h, bits);
                break;
            }
            case SQLPOOL_TEXT:
            case SQLPOOL_BLOB: {
                const auto bytes = row.get<std::string_view>(i);
                h = fold_bytes(h, bytes.data(), bytes.size());
                break;
            }
            default:
                h = fold(h, 0x6E756C6C);  // NULL
        }
    }
    return h;
}

// ---------------------------------------------------------------- the step

struct Frame {
    std::vector<uint8_t> token;
    int64_t timestamp;
};

// Runs one batch on `conn`, a query per call (Connection::query: the
// parameters packed, the rows fetched into a buffer); returns its checksum
// and counts its rows.
uint64_t run_batch(sqlpool::Connection& conn, const Batch& batch, const Frame& frame,
                   uint64_t& rows) {
    uint64_t h = 0;
    for (const Query& q : batch) {
        sqlpool::Params params;
        for (Var v : q.params) {
            switch (v) {
                case Var::LidarPcToken:
                    params.add(sqlpool::Blob{frame.token.data(), frame.token.size()});
                    break;
                case Var::Timestamp:
                    params.add(frame.timestamp);
                    break;
                case Var::WindowStart:
                    params.add(frame.timestamp - int64_t{2000000});
                    break;
                case Var::WindowEnd:
                    params.add(frame.timestamp + int64_t{8000000});
                    break;
            }
        }
        for (const sqlpool::Row& row : conn.query(q.sql, params)) {
            h = fold_row(h, row);
            ++rows;
        }
        h = fold(h, 0xBA7C4);  // end of one query's rows
    }
    return h;
}

// How a batch gets its connection: the old way or the shared pool.
class Mode {
public:
    virtual ~Mode() = default;
    virtual const char* name() const = 0;
    // Runs fn on a connection for one batch.
    virtual uint64_t with_connection(const std::function<uint64_t(sqlpool::Connection&)>& fn) = 0;
};

// (a) What nuPlan does: a new connection per batch. sqlpool with a pool of one
// connection, no pre-ping, no recycling, opened and closed around the batch.
class OldWay final : public Mode {
public:
    explicit OldWay(std::string path) : path_(std::move(path)) {
        opts_.pool_size = 1;
        opts_.max_overflow = 0;
        opts_.pre_ping = false;
        opts_.recycle_ms = -1;
        opts_.read_only = true;
        opts_.read_snapshot = false;  // autocommit per statement, as Python's sqlite3 reads
    }
    const char* name() const override { return "old way: open per batch"; }
    uint64_t with_connection(const std::function<uint64_t(sqlpool::Connection&)>& fn) override {
        sqlpool::Pool pool(path_, opts_);
        uint64_t h;
        {
            sqlpool::Connection conn = pool.checkout();
            h = fn(conn);
            conn.checkin();
        }
        const sqlpool_stats s = pool.stats();
        created_ += s.connections_created;
        cache_hits_ += s.statement_cache_hits;
        cache_misses_ += s.statement_cache_misses;
        pool.close();
        return h;
    }
    uint64_t created() const { return created_.load(); }
    uint64_t cache_hits() const { return cache_hits_.load(); }
    uint64_t cache_misses() const { return cache_misses_.load(); }

private:
    std::string path_;
    sqlpool::PoolOptions opts_;
    std::atomic<uint64_t> created_{0}, cache_hits_{0}, cache_misses_{0};
};

// (b) One pool shared by all threads.
class SharedPool final : public Mode {
public:
    SharedPool(const std::string& path, const sqlpool::PoolOptions& opts) : pool_(path, opts) {}
    const char* name() const override { return "sqlpool: one shared pool"; }
    uint64_t with_connection(const std::function<uint64_t(sqlpool::Connection&)>& fn) override {
        sqlpool::Connection conn = pool_.checkout();
        const uint64_t h = fn(conn);
        conn.checkin();
        return h;
    }
    sqlpool::Pool& pool() { return pool_; }

private:
    sqlpool::Pool pool_;
};

uint64_t run_step(Mode& mode, const std::vector<Batch>& batches, const Frame& frame,
                  uint64_t& rows) {
    uint64_t h = 0;
    for (const Batch& batch : batches) {
        h = fold(h, mode.with_connection([&](sqlpool::Connection& conn) {
            return run_batch(conn, batch, frame, rows);
        }));
    }
    return h;
}

// ---------------------------------------------------------------- the runs

struct Plan {
    uint64_t steps;
    unsigned threads;
    size_t frames;
    uint64_t first_step(unsigned t) const { return steps * t / threads; }
    // Thread t walks the frames [lo, lo + len) from lo, one per step.
    size_t frame_of(unsigned t, uint64_t step) const {
        size_t lo = frames * t / threads;
        size_t len = frames * (t + 1) / threads - lo;
        if (len == 0) return t % frames;
        return lo + static_cast<size_t>((step - first_step(t)) % len);
    }
};

struct RunResult {
    double wall_ms = 0;
    double step_ms_sum = 0;  // the sum of each step's own duration
    uint64_t rows = 0;
    std::vector<uint64_t> checksums;  // per step
};

// Runs every thread's steps (warm_up: only each thread's first step, unrecorded).
RunResult run(Mode& mode, const std::vector<Batch>& batches, const std::vector<Frame>& frames,
              const Plan& plan, bool warm_up) {
    RunResult r;
    r.checksums.assign(plan.steps, 0);
    std::vector<double> step_ms(plan.threads, 0.0);
    std::vector<uint64_t> rows(plan.threads, 0);
    std::mutex error_mu;
    std::string error;
    std::atomic<bool> failed{false};
    std::promise<void> go;
    std::shared_future<void> started = go.get_future().share();
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < plan.threads; ++t) {
        workers.emplace_back([&, t] {
            started.wait();
            try {
                uint64_t first = plan.first_step(t);
                uint64_t last = plan.first_step(t + 1);
                if (warm_up) last = std::min(last, first + 1);
                for (uint64_t s = first; s < last && !failed.load(); ++s) {
                    const auto t0 = Clock::now();
                    const uint64_t h = run_step(mode, batches, frames[plan.frame_of(t, s)], rows[t]);
                    step_ms[t] += std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
                    if (!warm_up) r.checksums[s] = h;
                }
            } catch (const std::exception& e) {
                std::lock_guard<std::mutex> lock(error_mu);
                if (!failed.exchange(true)) error = e.what();
            }
        });
    }
    const auto t0 = Clock::now();
    go.set_value();
    for (auto& w : workers) w.join();
    r.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
    if (failed) throw std::runtime_error(std::string(mode.name()) + ": " + error);
    for (unsigned t = 0; t < plan.threads; ++t) {
        r.step_ms_sum += step_ms[t];
        r.rows += rows[t];
    }
    return r;
}

// ---------------------------------------------------------------- database

// A temporary database file, removed (with any journal) at exit.
class TempDb {
public:
    TempDb() {
        const char* dir = std::getenv("TMPDIR");
        std::string tmpl = std::string(dir != nullptr && *dir != '\0' ? dir : "/tmp") +
                           "/sqlpool-nuplan-XXXXXX.db";
        std::vector<char> buf(tmpl.begin(), tmpl.end());
        buf.push_back('\0');
        const int fd = mkstemps(buf.data(), 3);
        if (fd < 0) throw std::runtime_error("cannot create a temporary file " + tmpl);
        ::close(fd);
        path_ = buf.data();
    }
    ~TempDb() {
        for (const char* suffix : {"", "-journal", "-wal", "-shm"}) {
            std::error_code ec;
            fs::remove(path_ + suffix, ec);
        }
    }
    TempDb(const TempDb&) = delete;
    TempDb& operator=(const TempDb&) = delete;
    const std::string& path() const { return path_; }

private:
    std::string path_;
};

void generate(const std::string& path, const fs::path& sql_dir, std::optional<int64_t> frames) {
    const std::string schema = read_file(sql_dir / "schema.sql");
    const std::string gen = read_file(sql_dir / "generate.sql");
    const auto t0 = Clock::now();
    sqlpool::PoolOptions opts;
    opts.pool_size = 1;
    opts.max_overflow = 0;
    opts.create = true;
    sqlpool::Pool pool(path, opts);
    {
        sqlpool::Connection conn = pool.checkout();
        conn.exec(schema);
        if (frames) conn.exec("INSERT INTO gen_params (id, frames) VALUES (1, " +
                              std::to_string(*frames) + ")");
        conn.exec(gen);
        conn.checkin();
    }
    pool.close();
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::printf("generated %s: %.1f MB in %.2f s\n", path.c_str(),
                static_cast<double>(fs::file_size(path)) / 1e6, s);
}

std::vector<Frame> load_frames(const std::string& path) {
    sqlpool::PoolOptions opts;
    opts.pool_size = 1;
    opts.max_overflow = 0;
    opts.read_only = true;
    sqlpool::Pool pool(path, opts);
    std::vector<Frame> frames;
    {
        sqlpool::Connection conn = pool.checkout();
        {
            sqlpool::Statement st = conn.prepare("SELECT token, timestamp FROM lidar_pc ORDER BY timestamp");
            while (st.step())
                frames.push_back(Frame{st.get<std::vector<uint8_t>>(0), st.get<int64_t>(1)});
        }
        conn.checkin();
    }
    pool.close();
    if (frames.empty()) throw std::runtime_error(path + ": the lidar_pc table is empty");
    return frames;
}

// ---------------------------------------------------------------- report

void print_stats(const sqlpool_stats& s) {
    std::printf("pool stats (sqlpool_stats, after the run):\n");
    std::printf("  %-24s %" PRIu32 "\n", "pool_size", s.pool_size);
    std::printf("  %-24s %" PRId32 "\n", "max_overflow", s.max_overflow);
    std::printf("  %-24s %" PRIu32 "\n", "checked_out", s.checked_out);
    std::printf("  %-24s %" PRIu32 "\n", "idle", s.idle);
    std::printf("  %-24s %" PRId32 "\n", "overflow", s.overflow);
    std::printf("  %-24s %" PRIu32 "\n", "waiting", s.waiting);
    std::printf("  %-24s %" PRIu64 "\n", "connections_created", s.connections_created);
    std::printf("  %-24s %" PRIu64 "\n", "connections_closed", s.connections_closed);
    std::printf("  %-24s %" PRIu64 "\n", "checkouts", s.checkouts);
    std::printf("  %-24s %" PRIu64 "\n", "waits", s.waits);
    std::printf("  %-24s %" PRIu64 "\n", "timeouts", s.timeouts);
    std::printf("  %-24s %" PRIu64 " (%.3f ms)\n", "wait_ns_total", s.wait_ns_total,
                static_cast<double>(s.wait_ns_total) / 1e6);
    std::printf("  %-24s %" PRIu64 "\n", "pre_ping_failures", s.pre_ping_failures);
    std::printf("  %-24s %" PRIu64 "\n", "recycled", s.recycled);
    std::printf("  %-24s %" PRIu64 "\n", "invalidated", s.invalidated);
    std::printf("  %-24s %" PRIu64 "\n", "statement_cache_hits", s.statement_cache_hits);
    std::printf("  %-24s %" PRIu64 "\n", "statement_cache_misses", s.statement_cache_misses);
    std::printf("  %-24s %" PRIu64 "\n", "resets_on_checkin", s.resets_on_checkin);
}

int real_main(int argc, char** argv) {
    const Flags flags = parse_flags(argc, argv);
    const fs::path sql_dir = flags.sql_dir;
    const std::vector<Batch> batches = parse_step_queries(sql_dir / "step_queries.sql");
    size_t queries_per_step = 0;
    for (const Batch& b : batches) queries_per_step += b.size();

    std::optional<TempDb> temp;
    std::string path = flags.db;
    if (path.empty()) {
        temp.emplace();
        path = temp->path();
        generate(path, sql_dir, flags.frames);
    } else {
        std::error_code ec;
        if (!fs::exists(path, ec) || fs::file_size(path, ec) == 0) generate(path, sql_dir, flags.frames);
    }
    const std::vector<Frame> frames = load_frames(path);
    const Plan plan{flags.steps, flags.threads, frames.size()};

    std::printf("sqlpool %s nuPlan simulator: %" PRIu64 " steps x %zu queries in %zu batches, "
                "%u threads, %zu lidar_pc frames in %s\n",
                sqlpool::version().c_str(), plan.steps, queries_per_step, batches.size(),
                plan.threads, frames.size(), path.c_str());

    // (a) the old way
    OldWay old_way(path);
    run(old_way, batches, frames, plan, /*warm_up=*/true);
    const uint64_t old_created0 = old_way.created();
    const uint64_t old_hits0 = old_way.cache_hits(), old_misses0 = old_way.cache_misses();
    const RunResult old_r = run(old_way, batches, frames, plan, false);
    const uint64_t old_created = old_way.created() - old_created0;
    const uint64_t old_hits = old_way.cache_hits() - old_hits0;
    const uint64_t old_misses = old_way.cache_misses() - old_misses0;

    // (b) one shared pool
    sqlpool::PoolOptions opts;
    opts.pool_size = flags.pool_size;
    opts.max_overflow = flags.max_overflow;
    opts.timeout_ms = flags.timeout_ms;
    opts.pre_ping = flags.pre_ping;
    opts.recycle_ms = flags.recycle_ms;
    opts.lifo = flags.lifo;
    opts.read_only = true;
    if (!flags.read_snapshot) opts.read_snapshot = false;
    SharedPool shared(path, opts);
    run(shared, batches, frames, plan, /*warm_up=*/true);
    const sqlpool_stats s0 = shared.pool().stats();
    const RunResult pool_r = run(shared, batches, frames, plan, false);
    const sqlpool_stats s1 = shared.pool().stats();

    // Compare.
    uint64_t mismatches = 0;
    for (uint64_t s = 0; s < plan.steps; ++s) {
        if (old_r.checksums[s] != pool_r.checksums[s]) {
            if (mismatches < 5)
                std::fprintf(stderr, "step %" PRIu64 ": checksum %016" PRIx64 " the old way, %016" PRIx64
                             " with the pool\n", s, old_r.checksums[s], pool_r.checksums[s]);
            ++mismatches;
        }
    }
    if (old_r.rows != pool_r.rows) {
        std::fprintf(stderr, "rows: %" PRIu64 " the old way, %" PRIu64 " with the pool\n", old_r.rows,
                     pool_r.rows);
        ++mismatches;
    }

    // Report.
    const double steps = static_cast<double>(plan.steps);
    const double queries = steps * static_cast<double>(queries_per_step);
    auto row = [](const char* label, const std::string& a, const std::string& b) {
        std::printf("  %-30s %26s %26s\n", label, a.c_str(), b.c_str());
    };
    auto fmt = [](const char* f, double v) {
        char buf[64];
        std::snprintf(buf, sizeof buf, f, v);
        return std::string(buf);
    };
    auto hits = [](uint64_t h, uint64_t m) {
        return std::to_string(h) + " / " + std::to_string(m);
    };
    std::printf("\n");
    row("", old_way.name(), shared.name());
    row("wall time (ms)", fmt("%.1f", old_r.wall_ms), fmt("%.1f", pool_r.wall_ms));
    row("ms per step (per thread)", fmt("%.3f", old_r.step_ms_sum / steps),
        fmt("%.3f", pool_r.step_ms_sum / steps));
    row("steps/s", fmt("%.1f", steps / old_r.wall_ms * 1e3), fmt("%.1f", steps / pool_r.wall_ms * 1e3));
    row("queries/s", fmt("%.0f", queries / old_r.wall_ms * 1e3),
        fmt("%.0f", queries / pool_r.wall_ms * 1e3));
    row("rows per step", fmt("%.1f", static_cast<double>(old_r.rows) / steps),
        fmt("%.1f", static_cast<double>(pool_r.rows) / steps));
    row("connections opened per step", fmt("%.2f", static_cast<double>(old_created) / steps),
        fmt("%.2f", static_cast<double>(s1.connections_created - s0.connections_created) / steps));
    row("statement cache hits / misses", hits(old_hits, old_misses),
        hits(s1.statement_cache_hits - s0.statement_cache_hits,
             s1.statement_cache_misses - s0.statement_cache_misses));
    row("speedup (wall time)", "1.00x", fmt("%.2fx", old_r.wall_ms / pool_r.wall_ms));
    std::printf("  (after one warm-up step per thread in each mode)\n\n");
    print_stats(s1);
    shared.pool().close();

    std::printf("\nchecksums: ");
    if (mismatches == 0) {
        std::printf("all %" PRIu64 " steps identical both ways (step 0: %016" PRIx64 ")\n", plan.steps,
                    pool_r.checksums[0]);
        return 0;
    }
    std::printf("MISMATCH in %" PRIu64 " steps\n", mismatches);
    return 1;
}

}  // namespace

int main(int argc, char** argv) {
    try {
        return real_main(argc, argv);
    } catch (const sqlpool::Error& e) {
        std::fprintf(stderr, "simulator: sqlpool error %d (%s, sqlite %d): %s\n", e.code(),
                     sqlpool_errstr(e.code()), e.sqlite_code(), e.what());
    } catch (const std::exception& e) {
        std::fprintf(stderr, "simulator: %s\n", e.what());
    }
    return 1;
}
