// Tests of include/sqlpool.hpp, the C++17 RAII layer over the C API: that it
// passes values through both ways unchanged, turns failures into
// sqlpool::Error with the C API's codes, and returns every connection to the
// pool exactly once, whatever path the scope leaves by.
#include <sqlpool.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <vector>

#include <fcntl.h>
#include <unistd.h>

namespace fs = std::filesystem;

// ---- a small harness -------------------------------------------------------

static int g_checks_failed = 0;

#define CHECK(cond)                                                                   \
    do {                                                                              \
        if (!(cond)) {                                                                \
            std::fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            ++g_checks_failed;                                                        \
        }                                                                             \
    } while (0)

template <class T>
static std::string show(const T& v) {
    if constexpr (std::is_same_v<T, bool>) {
        return v ? "true" : "false";
    } else if constexpr (std::is_arithmetic_v<T>) {
        return std::to_string(v);
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        return "\"" + std::string(std::string_view(v)) + "\"";
    } else {
        return "(not printable)";
    }
}

#define CHECK_EQ(a, b)                                                                \
    do {                                                                              \
        const auto& a_ = (a);                                                         \
        const auto& b_ = (b);                                                         \
        if (!(a_ == b_)) {                                                            \
            std::fprintf(stderr, "  %s:%d: CHECK_EQ(%s, %s) failed: %s != %s\n", __FILE__, \
                         __LINE__, #a, #b, show(a_).c_str(), show(b_).c_str());       \
            ++g_checks_failed;                                                        \
        }                                                                             \
    } while (0)

// Runs `f`, expects a sqlpool::Error and returns it (code -1 when none came).
template <class F>
static sqlpool::Error expect_error(F&& f) {
    try {
        f();
    } catch (const sqlpool::Error& e) {
        return e;
    }
    return sqlpool::Error(-1, -1, "no exception");
}

// Checks an Error's code and shows its message when the code is wrong.
#define CHECK_CODE(err, expected)                                                     \
    do {                                                                              \
        if ((err).code() != (expected)) {                                             \
            std::fprintf(stderr, "  %s:%d: expected code %s (%d), got %d (sqlite %d): %s\n", \
                         __FILE__, __LINE__, #expected, (expected), (err).code(),     \
                         (err).sqlite_code(), (err).what());                          \
            ++g_checks_failed;                                                        \
        }                                                                             \
    } while (0)

// A fresh directory per test; removed with everything in it.
class TempDir {
public:
    TempDir() {
        const char* base = std::getenv("TMPDIR");
        std::string templ = std::string(base && *base ? base : "/tmp") + "/sqlpool-hpp-XXXXXX";
        std::vector<char> buf(templ.begin(), templ.end());
        buf.push_back('\0');
        if (mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
        path_ = buf.data();
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path_, ec);
    }
    std::string file(const std::string& name) const { return (path_ / name).string(); }

private:
    fs::path path_;
};

static sqlpool::PoolOptions create_opts() {
    sqlpool::PoolOptions o;
    o.create = true;
    return o;
}

// ---- the tests -----------------------------------------------------------

static void test_move_only_types() {
    static_assert(!std::is_copy_constructible_v<sqlpool::Pool>);
    static_assert(!std::is_copy_assignable_v<sqlpool::Pool>);
    static_assert(std::is_nothrow_move_constructible_v<sqlpool::Pool>);
    static_assert(!std::is_copy_constructible_v<sqlpool::Connection>);
    static_assert(!std::is_copy_assignable_v<sqlpool::Connection>);
    static_assert(std::is_nothrow_move_constructible_v<sqlpool::Connection>);
    static_assert(std::is_nothrow_move_assignable_v<sqlpool::Connection>);
    static_assert(!std::is_copy_constructible_v<sqlpool::Statement>);
    static_assert(std::is_nothrow_move_constructible_v<sqlpool::Statement>);
    static_assert(std::is_nothrow_destructible_v<sqlpool::Pool>);
    static_assert(std::is_nothrow_destructible_v<sqlpool::Connection>);
    static_assert(std::is_nothrow_destructible_v<sqlpool::Statement>);
    static_assert(std::is_base_of_v<std::runtime_error, sqlpool::Error>);
    CHECK(!sqlpool::version().empty());
    char expected[64];
    std::snprintf(expected, sizeof expected, "%d.%d.%d", SQLPOOL_VERSION_MAJOR,
                  SQLPOOL_VERSION_MINOR, SQLPOOL_VERSION_PATCH);
    CHECK_EQ(sqlpool::version(), std::string(expected));
}

static void test_roundtrip_every_type() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    auto conn = pool.checkout();
    CHECK(static_cast<bool>(conn));
    conn.exec("CREATE TABLE t(i INTEGER, i64 INTEGER, d REAL, s TEXT, sv TEXT, cs TEXT, "
              "b BLOB, vb BLOB, n, u INTEGER)");
    const std::vector<uint8_t> bytes = {0x00, 0x01, 0xfe, 0xff, 0x00};
    const unsigned char raw[] = {0xde, 0xad, 0xbe, 0xef};
    const std::string text_with_nul("a\0b", 3);
    {
        auto ins = conn.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)");
        ins.bind(1, 42)
            .bind(2, std::numeric_limits<int64_t>::min())
            .bind(3, 3.25)
            .bind(4, std::string("h\xc3\xa9llo"))
            .bind(5, std::string_view(text_with_nul))
            .bind(6, "c-string")
            .bind(7, sqlpool::Blob{raw, sizeof raw})
            .bind(8, bytes)
            .bind(9, nullptr)
            .bind(10, 7u);
        CHECK(!ins.step());
        // Second row: empty text and empty blobs stay empty, not NULL.
        ins.reset();
        ins.bind(1, -1)
            .bind(2, std::numeric_limits<int64_t>::max())
            .bind(3, -0.5)
            .bind(4, std::string())
            .bind(5, std::string_view())
            .bind(6, "")
            .bind(7, sqlpool::Blob{nullptr, 0})
            .bind(8, std::vector<uint8_t>())
            .bind(9, 1.5)
            .bind(10, 5LL);
        CHECK(!ins.step());
    }

    auto q = conn.prepare("SELECT i, i64, d, s, sv, cs, b, vb, n, u FROM t ORDER BY rowid");
    CHECK_EQ(q.column_count(), 10);
    const char* names[] = {"i", "i64", "d", "s", "sv", "cs", "b", "vb", "n", "u"};
    for (int c = 0; c < 10; ++c) CHECK_EQ(q.column_name(c), std::string(names[c]));

    CHECK(q.step());
    CHECK_EQ(q.column_type(0), SQLPOOL_INTEGER);
    CHECK_EQ(q.column_type(2), SQLPOOL_FLOAT);
    CHECK_EQ(q.column_type(3), SQLPOOL_TEXT);
    CHECK_EQ(q.column_type(6), SQLPOOL_BLOB);
    CHECK_EQ(q.column_type(8), SQLPOOL_NULL);
    CHECK_EQ(q.get<int>(0), 42);
    CHECK_EQ(q.get<int64_t>(0), 42);
    CHECK_EQ(q.get<int64_t>(1), std::numeric_limits<int64_t>::min());
    CHECK_EQ(q.get<double>(2), 3.25);
    CHECK_EQ(q.get<std::string>(3), std::string("h\xc3\xa9llo"));
    CHECK_EQ(q.get<std::string_view>(3), std::string_view("h\xc3\xa9llo"));
    CHECK_EQ(q.get<std::string>(4), text_with_nul);  // length-carrying, NUL inside kept
    CHECK_EQ(q.get<std::string>(5), std::string("c-string"));
    CHECK(q.get<std::vector<uint8_t>>(6) == std::vector<uint8_t>(raw, raw + sizeof raw));
    CHECK(q.get<std::vector<uint8_t>>(7) == bytes);
    CHECK(q.is_null(8));
    CHECK(!q.is_null(0));
    CHECK_EQ(q.get<std::string>(8), std::string());
    CHECK(q.get<std::vector<uint8_t>>(8).empty());
    CHECK_EQ(q.get<int64_t>(8), 0);
    CHECK_EQ(q.get<int64_t>(9), 7);
    CHECK_EQ(q.get<double>(0), 42.0);          // SQLite's conversions pass through
    CHECK_EQ(q.get<std::string>(0), std::string("42"));

    CHECK(q.step());
    CHECK_EQ(q.get<int>(0), -1);
    CHECK_EQ(q.get<int64_t>(1), std::numeric_limits<int64_t>::max());
    CHECK_EQ(q.get<double>(2), -0.5);
    CHECK_EQ(q.column_type(3), SQLPOOL_TEXT);
    CHECK_EQ(q.get<std::string>(3), std::string());
    CHECK_EQ(q.column_type(4), SQLPOOL_TEXT);
    CHECK_EQ(q.column_type(5), SQLPOOL_TEXT);
    CHECK_EQ(q.column_type(6), SQLPOOL_BLOB);
    CHECK_EQ(q.column_type(7), SQLPOOL_BLOB);
    CHECK(q.get<std::vector<uint8_t>>(7).empty());
    CHECK_EQ(q.column_type(8), SQLPOOL_FLOAT);
    CHECK_EQ(q.get<int64_t>(9), 5);

    CHECK(!q.step());
    // Out of range reads as NULL, as in the C API.
    CHECK_EQ(q.column_type(99), SQLPOOL_NULL);
    CHECK_EQ(q.column_name(99), std::string());
    q.finalize();
    CHECK(!q);
    conn.checkin();
    CHECK(!conn);
    CHECK_EQ(pool.stats().checked_out, 0u);
}

static void test_statement_reset_and_rebind() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    auto conn = pool.checkout();
    auto sq = conn.prepare("SELECT ?1 * 2");
    for (int i = 0; i < 5; ++i) {
        sq.bind(1, i);
        CHECK(sq.step());
        CHECK_EQ(sq.get<int>(0), i * 2);
        CHECK(!sq.step());
        sq.reset();
    }
}

static void test_raii_checkin_on_exception() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    bool caught = false;
    try {
        auto conn = pool.checkout();
        auto st = conn.prepare("SELECT 1");
        CHECK(st.step());
        CHECK_EQ(pool.stats().checked_out, 1u);
        throw std::runtime_error("boom");
    } catch (const std::runtime_error& e) {
        caught = std::string(e.what()) == "boom";
    }
    CHECK(caught);
    auto s = pool.stats();
    CHECK_EQ(s.checked_out, 0u);
    CHECK_EQ(s.idle, 1u);
    CHECK_EQ(s.checkouts, 1u);

    // A sqlpool::Error unwinding through the scope does the same.
    caught = false;
    try {
        auto conn = pool.checkout();
        conn.exec("BEGIN");
        conn.exec("CREATE TABLE t(x)");
        conn.exec("THIS IS NOT SQL");
    } catch (const sqlpool::Error& e) {
        caught = e.code() == SQLPOOL_SQLITE;
    }
    CHECK(caught);
    s = pool.stats();
    CHECK_EQ(s.checked_out, 0u);
    CHECK_EQ(s.checkouts, 2u);
    // The open transaction was rolled back at checkin: no table t.
    auto conn = pool.checkout();
    auto st = conn.prepare("SELECT count(*) FROM sqlite_master WHERE name = 't'");
    CHECK(st.step());
    CHECK_EQ(st.get<int>(0), 0);
}

static void test_moved_from_connection_checks_in_once() {
    TempDir dir;
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 2;
    o.max_overflow = 0;
    sqlpool::Pool pool(dir.file("t.db"), o);

    // Leave a known last error; a double checkin (MISUSE) would replace it.
    auto sentinel = expect_error([&] { pool.checkout().exec("SELECT * FROM no_such_table"); });
    CHECK_CODE(sentinel, SQLPOOL_SQLITE);
    const std::string sentinel_msg = sqlpool_errmsg();
    CHECK(!sentinel_msg.empty());

    {
        sqlpool::Connection a = pool.checkout();
        sqlpool::Connection b = std::move(a);  // move construction
        CHECK(!a);
        CHECK(static_cast<bool>(b));
        CHECK(a.get() == nullptr);
        b.exec("SELECT 1");
        CHECK_EQ(pool.stats().checked_out, 1u);

        sqlpool::Connection c;  // empty
        CHECK(!c);
        c = std::move(b);  // move assignment into an empty one
        CHECK(!b);
        CHECK_EQ(pool.stats().checked_out, 1u);

        sqlpool::Connection d = pool.checkout();
        CHECK_EQ(pool.stats().checked_out, 2u);
        d = std::move(c);  // d's own connection is checked in first
        CHECK_EQ(pool.stats().checked_out, 1u);
        sqlpool::Connection& alias = d;
        d = std::move(alias);  // self-move keeps it
        CHECK(static_cast<bool>(d));
        d.exec("SELECT 1");
        CHECK_EQ(pool.stats().checked_out, 1u);
    }  // a, b, c empty; d checks in
    auto s = pool.stats();
    CHECK_EQ(s.checked_out, 0u);
    CHECK_EQ(s.idle, 2u);
    CHECK_EQ(s.checkouts, 3u);
    CHECK_EQ(sqlpool_errmsg(), sentinel_msg);  // no MISUSE on the way

    // checkin() then destruction: checked in once.
    {
        auto conn = pool.checkout();
        conn.checkin();
        CHECK(!conn);
    }
    CHECK_EQ(pool.stats().checked_out, 0u);
    CHECK_EQ(pool.stats().checkouts, 4u);
    CHECK_EQ(sqlpool_errmsg(), sentinel_msg);

    // The same for statements: a moved-from statement does not finalize.
    {
        auto conn = pool.checkout();
        auto st = conn.prepare("SELECT 1");
        sqlpool::Statement st2 = std::move(st);
        CHECK(!st);
        CHECK(st2.step());
        st2.finalize();
    }
    CHECK_EQ(sqlpool_errmsg(), sentinel_msg);
}

static void test_error_codes_and_messages() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    auto conn = pool.checkout();
    auto st = conn.prepare("SELECT ?1");

    auto e = expect_error([&] { st.bind(2, 1); });
    CHECK_CODE(e, SQLPOOL_SQLITE);
    CHECK_EQ(e.sqlite_code(), 25);  // SQLITE_RANGE
    CHECK(std::strlen(e.what()) > 0);

    e = expect_error([&] { conn.prepare("SELEKT 1"); });
    CHECK_CODE(e, SQLPOOL_SQLITE);
    CHECK_EQ(e.sqlite_code(), 1);  // SQLITE_ERROR
    CHECK(std::string(e.what()).find("SELEKT") != std::string::npos ||
          std::string(e.what()).find("syntax") != std::string::npos);

    conn.exec("CREATE TABLE u(id INTEGER PRIMARY KEY, name TEXT UNIQUE)");
    conn.exec("INSERT INTO u(name) VALUES ('x')");
    auto ins = conn.prepare("INSERT INTO u(name) VALUES (?)");
    ins.bind(1, "x");
    e = expect_error([&] { ins.step(); });
    CHECK_CODE(e, SQLPOOL_SQLITE);
    CHECK_EQ(e.sqlite_code(), 2067);  // SQLITE_CONSTRAINT_UNIQUE
    ins.finalize();

    // A missing file without create: CANTOPEN at open, naming the path.
    const std::string missing = dir.file("missing.db");
    e = expect_error([&] { sqlpool::Pool p(missing); });
    CHECK_CODE(e, SQLPOOL_CANTOPEN);
    CHECK(std::string(e.what()).find("missing.db") != std::string::npos);

    // A file that is not a database: SQLITE with SQLITE_NOTADB.
    const std::string junk = dir.file("junk.db");
    if (FILE* f = std::fopen(junk.c_str(), "wb")) {
        for (int i = 0; i < 256; ++i) std::fputs("this is not an sqlite database ", f);
        std::fclose(f);
    }
    e = expect_error([&] { sqlpool::Pool p(junk); });
    CHECK_CODE(e, SQLPOOL_SQLITE);
    CHECK_EQ(e.sqlite_code(), 26);

    // :memory: is refused.
    e = expect_error([&] { sqlpool::Pool p(":memory:"); });
    CHECK_CODE(e, SQLPOOL_INVALID_ARGUMENT);

    // An invalid option is refused by its setter, naming the option.
    sqlpool::PoolOptions bad = create_opts();
    bad.pool_size = 0;
    e = expect_error([&] { sqlpool::Pool p(dir.file("bad.db"), bad); });
    CHECK_CODE(e, SQLPOOL_INVALID_ARGUMENT);
    CHECK(std::string(e.what()).find("pool_size") != std::string::npos);
    bad = create_opts();
    bad.max_overflow = -2;
    e = expect_error([&] { sqlpool::Pool p(dir.file("bad.db"), bad); });
    CHECK_CODE(e, SQLPOOL_INVALID_ARGUMENT);
    CHECK_EQ(e.sqlite_code(), 0);
    bad = create_opts();
    bad.fairness = 7;
    e = expect_error([&] { sqlpool::Pool p(dir.file("bad.db"), bad); });
    CHECK_CODE(e, SQLPOOL_INVALID_ARGUMENT);
    CHECK(std::string(e.what()).find("fairness") != std::string::npos);

    // Using a checked-in connection's handle is MISUSE, not a crash.
    sqlpool_conn* raw = conn.get();
    st.finalize();
    conn.checkin();
    sqlpool::Connection stale(raw);
    e = expect_error([&] { stale.exec("SELECT 1"); });
    CHECK_CODE(e, SQLPOOL_MISUSE);
    e = expect_error([&] { stale.checkin(); });
    CHECK_CODE(e, SQLPOOL_MISUSE);
    CHECK(!stale);
    CHECK_EQ(pool.stats().checked_out, 0u);
}

static void test_statement_outliving_checkin_is_harmless() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    {
        auto conn = pool.checkout();
        sqlpool::Statement st = conn.prepare("SELECT 1");
        CHECK(st.step());
        conn.checkin();  // wrong order: st is stale now
        auto e = expect_error([&] { st.finalize(); });
        CHECK_CODE(e, SQLPOOL_MISUSE);
        CHECK(!st);
    }
    {
        auto st = sqlpool::Statement();
        auto conn = pool.checkout();
        st = conn.prepare("SELECT 1");
        // Declared before conn: destroyed after conn's checkin. ~Statement
        // must swallow the MISUSE and not throw (that would terminate).
    }
    auto s = pool.stats();
    CHECK_EQ(s.checked_out, 0u);
    CHECK_EQ(s.checkouts, 2u);
    // The pool still serves.
    auto conn = pool.checkout();
    auto st = conn.prepare("SELECT 2");
    CHECK(st.step());
    CHECK_EQ(st.get<int>(0), 2);
}

static void test_options_reach_the_pool() {
    TempDir dir;
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 1;
    o.max_overflow = 0;
    o.timeout_ms = 50;
    o.lifo = true;
    o.init_sql = "PRAGMA user_version = 7";
    o.busy_timeout_ms = 100;
    o.statement_cache_capacity = 4;
    o.read_snapshot = false;
    sqlpool::Pool pool(dir.file("t.db"), o);
    auto s = pool.stats();
    CHECK_EQ(s.pool_size, 1u);
    CHECK_EQ(s.max_overflow, 0);
    {
        auto conn = pool.checkout();
        auto st = conn.prepare("PRAGMA user_version");
        CHECK(st.step());
        CHECK_EQ(st.get<int>(0), 7);
        st.finalize();
        // pool_size 1 + max_overflow 0: a second checkout times out.
        auto e = expect_error([&] { pool.checkout(); });
        CHECK_CODE(e, SQLPOOL_TIMEOUT);
        CHECK(std::strlen(e.what()) > 0);
    }
    s = pool.stats();
    CHECK_EQ(s.timeouts, 1u);
    CHECK_EQ(s.checked_out, 0u);

    // Statement cache: the same SQL in a later checkout is a hit.
    const uint64_t hits = pool.stats().statement_cache_hits;
    {
        auto conn = pool.checkout();
        auto st = conn.prepare("PRAGMA user_version");
        CHECK(st.step());
    }
    CHECK(pool.stats().statement_cache_hits > hits);

    // read_only with read_snapshot defaulted: reads work, writes fail.
    sqlpool::PoolOptions ro;
    ro.read_only = true;
    sqlpool::Pool rpool(dir.file("t.db"), ro);
    auto conn = rpool.checkout();
    auto st = conn.prepare("PRAGMA user_version");
    CHECK(st.step());
    CHECK_EQ(st.get<int>(0), 7);
    st.finalize();
    auto e = expect_error([&] { conn.exec("CREATE TABLE w(x)"); });
    CHECK_CODE(e, SQLPOOL_SQLITE);
    CHECK_EQ(e.sqlite_code() & 0xff, 8);  // SQLITE_READONLY
}

// Whether this process holds a read lock on SQLite's shared-lock range of
// the file (what a read transaction holds with a rollback journal).
static bool shared_lock_held(const std::string& path) {
    const int fd = open(path.c_str(), O_RDONLY);
    CHECK(fd >= 0);
    struct flock lock = {};
    lock.l_type = F_WRLCK;
    lock.l_whence = SEEK_SET;
    lock.l_start = 0x40000000 + 2;  // SQLite's SHARED_FIRST
    lock.l_len = 510;               // SHARED_SIZE
    const int rc = fcntl(fd, F_OFD_GETLK, &lock);
    close(fd);
    CHECK_EQ(rc, 0);
    return lock.l_type != F_UNLCK;
}

static void test_snapshot_linger() {
    TempDir dir;
    {
        sqlpool::Pool pool(dir.file("t.db"), create_opts());
        pool.checkout().exec("CREATE TABLE t(x); INSERT INTO t VALUES (1)");
    }
    sqlpool::PoolOptions ro;
    ro.read_only = true;
    ro.snapshot_linger_ms = 60000;
    sqlpool::Pool readers(dir.file("t.db"), ro);
    {
        auto conn = readers.checkout();
        auto st = conn.prepare("SELECT count(*) FROM t");
        CHECK(st.step());
        CHECK_EQ(st.get<int>(0), 1);
    }
    // Checked in, the snapshot still holds SQLite's shared lock. Asked with an
    // open-file-description lock, which conflicts with this process's own
    // POSIX locks: no writer needed (one racing the monitor's sweep, which
    // ends the snapshot for a waiting writer, could find it gone).
    CHECK(shared_lock_held(dir.file("t.db")));

    sqlpool::PoolOptions too_long = ro;
    too_long.snapshot_linger_ms = 60001;
    auto bad = expect_error([&] { sqlpool::Pool p(dir.file("t.db"), too_long); });
    CHECK_CODE(bad, SQLPOOL_INVALID_ARGUMENT);
}

static void test_invalidate_dispose_close() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    {
        auto conn = pool.checkout();
        conn.invalidate();
    }
    auto s = pool.stats();
    CHECK_EQ(s.invalidated, 1u);
    CHECK_EQ(s.idle, 0u);
    {
        auto a = pool.checkout();
        auto b = pool.checkout();
    }
    CHECK_EQ(pool.stats().idle, 2u);
    pool.dispose();
    CHECK_EQ(pool.stats().idle, 0u);
    CHECK_EQ(pool.checkout().get() != nullptr, true);  // new ones on demand

    // Close with a connection out: it stays usable until its checkin.
    auto held = pool.checkout();
    pool.close();
    held.exec("CREATE TABLE after_close(x)");
    held.checkin();

    // A Pool closed by its destructor while a Connection is out.
    sqlpool::Connection survivor;
    {
        sqlpool::Pool p2(dir.file("t.db"));
        survivor = p2.checkout();
    }
    survivor.exec("SELECT 1");
    survivor.checkin();
}

static void test_close_semantics() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("t.db"), create_opts());
    auto held = pool.checkout();  // keeps the closed pool's memory alive
    pool.close();
    CHECK(pool.get() != nullptr);  // the handle is kept, not forgotten
    // API.md: checkout after close is SQLPOOL_CLOSED.
    auto e = expect_error([&] { pool.checkout(); });
    CHECK_CODE(e, SQLPOOL_CLOSED);
    // API.md: closing twice is SQLPOOL_MISUSE.
    e = expect_error([&] { pool.close(); });
    CHECK_CODE(e, SQLPOOL_MISUSE);
    held.exec("SELECT 1");
    held.checkin();
}

static void test_close_wakes_waiters() {
    TempDir dir;
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 1;
    o.max_overflow = 0;
    o.timeout_ms = 20000;
    sqlpool::Pool pool(dir.file("t.db"), o);
    auto held = pool.checkout();
    int code = -1;
    std::thread waiter([&] {
        try {
            pool.checkout();
            code = SQLPOOL_OK;
        } catch (const sqlpool::Error& err) {
            code = err.code();
        }
    });
    for (int i = 0; i < 2000 && pool.stats().waiting == 0; ++i) usleep(1000);
    CHECK_EQ(pool.stats().waiting, 1u);
    pool.close();  // from another thread than the waiter's
    waiter.join();
    CHECK_EQ(code, SQLPOOL_CLOSED);
    held.checkin();
}

static void test_move_pool() {
    TempDir dir;
    sqlpool::Pool a(dir.file("t.db"), create_opts());
    sqlpool::Pool b = std::move(a);
    CHECK(a.get() == nullptr);
    CHECK(b.get() != nullptr);
    b.checkout().exec("CREATE TABLE t(x)");
    sqlpool::Pool c(dir.file("t.db"));
    c = std::move(b);  // c's own pool is closed first
    CHECK_EQ(c.stats().checkouts, 1u);
}

// Every fairness mode (and 0.1's fair switch) opens and serves.
static void test_fairness_modes() {
    TempDir dir;
    const int modes[] = {SQLPOOL_FAIRNESS_STRICT, SQLPOOL_FAIRNESS_BOUNDED, SQLPOOL_FAIRNESS_BARGING};
    for (int mode : modes) {
        sqlpool::PoolOptions o = create_opts();
        o.fairness = mode;
        o.fairness_threshold_us = 1000;
        sqlpool::Pool pool(dir.file("fair.db"), o);
        sqlpool::Connection c = pool.checkout();
        c.exec("SELECT 1");
    }
    sqlpool::PoolOptions o = create_opts();
    o.fair = false;
    sqlpool::Pool pool(dir.file("fair.db"), o);
    CHECK_EQ(pool.stats().checked_out, 0u);
}

static void test_threads_share_a_pool() {
    TempDir dir;
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 2;
    o.max_overflow = 1;
    sqlpool::Pool pool(dir.file("t.db"), o);
    pool.checkout().exec("CREATE TABLE t(th INTEGER, i INTEGER)");
    const int threads = 4, per_thread = 25;
    std::vector<std::thread> ts;
    std::vector<int> failures(threads, 0);
    for (int t = 0; t < threads; ++t) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < per_thread; ++i) {
                try {
                    auto conn = pool.checkout();
                    auto st = conn.prepare("INSERT INTO t VALUES (?, ?)");
                    st.bind(1, t).bind(2, i);
                    st.step();
                } catch (const sqlpool::Error& e) {
                    std::fprintf(stderr, "  thread %d: %s\n", t, e.what());
                    ++failures[static_cast<size_t>(t)];
                }
            }
        });
    }
    for (auto& th : ts) th.join();
    for (int f : failures) CHECK_EQ(f, 0);
    auto conn = pool.checkout();
    auto st = conn.prepare("SELECT count(*) FROM t");
    CHECK(st.step());
    CHECK_EQ(st.get<int>(0), threads * per_thread);
    auto s = pool.stats();
    CHECK_EQ(s.checked_out, 1u);
    CHECK(s.connections_created <= 3u);
}

// Events reach a C callback through PoolOptions; leak reports name the tag;
// status() and prometheus() return the pool's text forms.
// query(): every type back through the packed parameters and the fetched rows,
// results larger than one buffer, a row larger than the first buffer, errors.
static void test_query_reads_rows_in_one_call() {
    TempDir dir;
    sqlpool::Pool pool(dir.file("q.db"), create_opts());
    {
        sqlpool::Connection conn = pool.checkout();
        conn.exec("CREATE TABLE t (i INTEGER, f REAL, s TEXT, b BLOB, n)");
        const std::vector<uint8_t> blob{0, 1, 2, 255};
        conn.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", int64_t{-7}, 2.5, "héllo", blob, nullptr);
        sqlpool::Params p;
        p.add(42).add(0.25).add(std::string("x")).add(sqlpool::Blob{nullptr, 0}).add(nullptr);
        conn.query("INSERT INTO t VALUES (?, ?, ?, ?, ?)", p);

        const sqlpool::Rows rows = conn.query("SELECT i, f, s, b, n FROM t ORDER BY i");
        CHECK_EQ(rows.size(), size_t{2});
        const sqlpool::Row& r = rows[0];
        CHECK_EQ(r.column_count(), 5);
        CHECK_EQ(r.get<int64_t>(0), int64_t{-7});
        CHECK_EQ(r.get<double>(1), 2.5);
        CHECK_EQ(r.get<std::string_view>(2), std::string_view("héllo"));
        CHECK(r.get<std::vector<uint8_t>>(3) == blob);
        CHECK(r.is_null(4));
        CHECK_EQ(r.get<int64_t>(4), int64_t{0});
        CHECK(r.get<std::string>(4).empty());
        CHECK_EQ(r.get<int>(1), 2);  // FLOAT read as a number converts
        CHECK_EQ(rows[1].column_type(3), SQLPOOL_BLOB);
        CHECK(rows[1].get<std::vector<uint8_t>>(3).empty());
        CHECK_EQ(rows[1].get<std::string>(2), std::string("x"));
        CHECK_CODE(expect_error([&] { (void)r.get<int64_t>(2); }), SQLPOOL_INVALID_ARGUMENT);
        CHECK_CODE(expect_error([&] { (void)r.get<std::string>(0); }), SQLPOOL_INVALID_ARGUMENT);
        CHECK_CODE(expect_error([&] { (void)r.get<int64_t>(5); }), SQLPOOL_INVALID_ARGUMENT);
        CHECK_EQ(r.column_type(9), SQLPOOL_NULL);

        // Many rows: more than one 16 KiB buffer; their order and contents hold.
        const sqlpool::Rows many = conn.query(
            "WITH RECURSIVE c(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM c WHERE k < 5000) "
            "SELECT k, printf('%050d', k) FROM c");
        CHECK_EQ(many.size(), size_t{5000});
        int64_t sum = 0;
        bool texts_ok = true;
        for (const sqlpool::Row& row : many) {
            sum += row.get<int64_t>(0);
            texts_ok = texts_ok && row.get<std::string_view>(1).size() == 50;
        }
        CHECK_EQ(sum, int64_t{5000} * 5001 / 2);
        CHECK(texts_ok);
        CHECK_EQ(many[4999].get<std::string>(1), std::string(46, '0') + "5000");

        // One row larger than the first buffer.
        const sqlpool::Rows big = conn.query("SELECT zeroblob(100000), ?", "after");
        CHECK_EQ(big.size(), size_t{1});
        CHECK_EQ(big[0].get<std::string_view>(0).size(), size_t{100000});
        CHECK_EQ(big[0].get<std::string>(1), std::string("after"));

        // Errors, and the connection still works after them.
        CHECK_CODE(expect_error([&] { conn.query("SELECT nope FROM t"); }), SQLPOOL_SQLITE);
        CHECK_CODE(expect_error([&] { conn.query("SELECT ?", 1, 2); }), SQLPOOL_INVALID_ARGUMENT);
        CHECK_EQ(conn.query("SELECT count(*) FROM t")[0].get<int64_t>(0), int64_t{2});
    }
    // On the pool: a connection for the call, and none left checked out.
    CHECK_EQ(pool.query("SELECT ? + 1", 41)[0].get<int>(0), 42);
    CHECK_EQ(pool.stats().checked_out, uint32_t{0});
}

static void test_observability() {
    TempDir dir;
    struct Seen {
        std::mutex mutex;
        std::vector<int> events;
        std::vector<std::string> logs;
    } seen;
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 2;
    o.leak_threshold_ms = 50;
    o.on_event_user_data = &seen;
    o.on_event = [](void* user, int event, uint64_t, uint64_t) {
        auto* s = static_cast<Seen*>(user);
        std::lock_guard<std::mutex> lock(s->mutex);
        s->events.push_back(event);
    };
    o.on_log_user_data = &seen;
    o.on_log = [](void* user, int, const char* message) {
        auto* s = static_cast<Seen*>(user);
        std::lock_guard<std::mutex> lock(s->mutex);
        s->logs.emplace_back(message);
    };
    sqlpool::Pool pool(dir.file("obs.db"), o);
    {
        auto conn = pool.checkout();
        conn.set_tag("frame 12");
        CHECK_EQ(pool.status(),
                 std::string("Pool size: 2  Connections in pool: 0 Current Overflow: -1 "
                             "Current Checked out connections: 1"));
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
    }
    CHECK(pool.prometheus().find("sqlpool_connections_active{pool=\"" + dir.file("obs.db") + "\"} 0\n") !=
          std::string::npos);
    std::lock_guard<std::mutex> lock(seen.mutex);
    CHECK_EQ(seen.events.size(), size_t{3});
    CHECK_EQ(seen.events.at(0), SQLPOOL_EVENT_CONNECT);
    CHECK_EQ(seen.events.at(1), SQLPOOL_EVENT_CHECKOUT);
    CHECK_EQ(seen.events.at(2), SQLPOOL_EVENT_CHECKIN);
    CHECK_EQ(seen.logs.size(), size_t{2});
    CHECK(seen.logs.at(0).find("frame 12") != std::string::npos);
    CHECK(seen.logs.at(1).find("returned after") != std::string::npos);
}

// The additions for the DB-API: changes, rowid, in_transaction, declared
// types, and user-defined functions (lambdas, std::function, per pool).
static void test_connection_state_and_decltype() {
    TempDir dir;
    sqlpool::PoolOptions o = create_opts();
    o.read_snapshot = true;
    sqlpool::Pool pool(dir.file("state.db"), o);
    auto conn = pool.checkout();
    conn.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)");
    conn.exec("INSERT INTO t(name) VALUES ('a'), ('b')");
    CHECK_EQ(conn.changes(), int64_t{2});
    CHECK_EQ(conn.last_insert_rowid(), int64_t{2});
    {
        auto st = conn.prepare("SELECT id, name, id * 2 FROM t");
        CHECK(st.step());
        CHECK(!conn.in_transaction());  // only the read snapshot is open
        CHECK_EQ(st.column_decltype(0).value_or("?"), std::string("INTEGER"));
        CHECK_EQ(st.column_decltype(1).value_or("?"), std::string("TEXT"));
        CHECK(!st.column_decltype(2).has_value());
        CHECK(!st.column_decltype(3).has_value());
    }
    conn.exec("BEGIN");
    CHECK(conn.in_transaction());
    conn.exec("COMMIT");
    CHECK(!conn.in_transaction());
}

static int g_deleted = 0;
struct Counted {
    int64_t add;
    Counted(int64_t a) : add(a) {}
    Counted(const Counted& other) : add(other.add) {}
    ~Counted() { ++g_deleted; }
    void operator()(sqlpool::FunctionCall& call) const { call.result(call.get<int64_t>(0) + add); }
};

static void test_user_functions() {
    TempDir dir;
    g_deleted = 0;
    {
        sqlpool::Pool pool(dir.file("fn.db"), create_opts());
        auto conn = pool.checkout();
        conn.create_function("echo", 1, [](sqlpool::FunctionCall& call) {
            switch (call.type(0)) {
            case SQLPOOL_INTEGER: call.result(call.get<int64_t>(0)); break;
            case SQLPOOL_FLOAT: call.result(call.get<double>(0)); break;
            case SQLPOOL_TEXT: call.result(call.get<std::string_view>(0)); break;
            case SQLPOOL_BLOB: call.result(call.get<std::vector<uint8_t>>(0)); break;
            default: call.result(nullptr);
            }
        }, true);
        conn.create_function("argc", -1, sqlpool::Function([](sqlpool::FunctionCall& call) { call.result(call.argc()); }));
        conn.create_function("fail", 0, [](sqlpool::FunctionCall&) { throw std::runtime_error("failed on purpose"); });
        conn.create_function("bad_text", 0, [](sqlpool::FunctionCall& call) { call.result(std::string_view("\xff", 1)); });
        conn.create_function("plus", 1, Counted(10));
        auto rows = conn.query("SELECT echo(7), echo(2.5), echo('t\xc3\xa9'), echo(x'0001'), echo(NULL), argc(1, 2, 3), plus(5)");
        CHECK_EQ(rows.size(), size_t{1});
        const sqlpool::Row& row = rows[0];
        CHECK_EQ(row.get<int64_t>(0), int64_t{7});
        CHECK_EQ(row.get<double>(1), 2.5);
        CHECK_EQ(row.get<std::string>(2), std::string("t\xc3\xa9"));
        CHECK(row.get<std::vector<uint8_t>>(3) == (std::vector<uint8_t>{0, 1}));
        CHECK_EQ(row.column_type(4), SQLPOOL_NULL);
        CHECK_EQ(row.get<int64_t>(5), int64_t{3});
        CHECK_EQ(row.get<int64_t>(6), int64_t{15});
        auto err = expect_error([&] { conn.query("SELECT fail()"); });
        CHECK_CODE(err, SQLPOOL_SQLITE);
        CHECK(std::string(err.what()).find("failed on purpose") != std::string::npos);
        err = expect_error([&] { conn.query("SELECT bad_text()"); });
        CHECK(std::string(err.what()).find("not valid UTF-8") != std::string::npos);
        err = expect_error([&] { conn.create_function("x", 200, Counted(0)); });
        CHECK_CODE(err, SQLPOOL_INVALID_ARGUMENT);
        const int before_close = g_deleted;
        conn.invalidate();
        conn.checkin();
        CHECK(g_deleted > before_close);  // the closed connection deleted its callable
    }

    // Per pool: on every connection, overflow ones too.
    sqlpool::PoolOptions o = create_opts();
    o.pool_size = 1;
    o.max_overflow = 1;
    o.functions.push_back({"twice", 1, [](sqlpool::FunctionCall& call) { call.result(2 * call.get<int64_t>(0)); }, true});
    sqlpool::Pool pool(dir.file("fn.db"), o);
    auto a = pool.checkout();
    auto b = pool.checkout();
    CHECK_EQ(pool.stats().overflow, 1);
    CHECK_EQ(a.query("SELECT twice(4)")[0].get<int64_t>(0), int64_t{8});
    CHECK_EQ(b.query("SELECT twice(5)")[0].get<int64_t>(0), int64_t{10});
}

int main() {
    std::setvbuf(stdout, nullptr, _IOLBF, 0);  // keep ok/FAIL lines in order with stderr
    struct Test {
        const char* name;
        void (*fn)();
    };
    const Test tests[] = {
        {"move_only_types", test_move_only_types},
        {"roundtrip_every_type", test_roundtrip_every_type},
        {"statement_reset_and_rebind", test_statement_reset_and_rebind},
        {"raii_checkin_on_exception", test_raii_checkin_on_exception},
        {"moved_from_connection_checks_in_once", test_moved_from_connection_checks_in_once},
        {"error_codes_and_messages", test_error_codes_and_messages},
        {"statement_outliving_checkin_is_harmless", test_statement_outliving_checkin_is_harmless},
        {"options_reach_the_pool", test_options_reach_the_pool},
        {"snapshot_linger", test_snapshot_linger},
        {"invalidate_dispose_close", test_invalidate_dispose_close},
        {"close_semantics", test_close_semantics},
        {"close_wakes_waiters", test_close_wakes_waiters},
        {"move_pool", test_move_pool},
        {"threads_share_a_pool", test_threads_share_a_pool},
        {"fairness_modes", test_fairness_modes},
        {"observability", test_observability},
        {"query_reads_rows_in_one_call", test_query_reads_rows_in_one_call},
        {"connection_state_and_decltype", test_connection_state_and_decltype},
        {"user_functions", test_user_functions},
    };
    int passed = 0, failed = 0;
    for (const Test& t : tests) {
        const int before = g_checks_failed;
        bool ok = true;
        try {
            t.fn();
        } catch (const sqlpool::Error& e) {
            std::fprintf(stderr, "  unexpected sqlpool::Error code=%d sqlite=%d: %s\n", e.code(),
                         e.sqlite_code(), e.what());
            ok = false;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "  unexpected exception: %s\n", e.what());
            ok = false;
        }
        ok = ok && g_checks_failed == before;
        std::printf("%s %s\n", ok ? "ok  " : "FAIL", t.name);
        (ok ? passed : failed)++;
    }
    std::printf("test_hpp: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
