/*
 * sqlpool.hpp: C++17 RAII wrappers over the sqlpool C API (sqlpool.h).
 *
 * Header-only and without logic of its own: every call goes straight to the
 * C function of the same name; a failing code becomes a sqlpool::Error that
 * carries the code, the SQLite extended code and sqlpool_errmsg(). The one
 * exception is query(), which packs parameters and reads rows in the formats
 * of sqlpool_bind_packed() and sqlpool_fetch(), so that a whole query is one
 * call into the library (or a few for many rows) instead of one per value:
 *
 *       for (const sqlpool::Row& row : conn.query("SELECT id, name FROM users WHERE age > ?", 30))
 *           std::cout << row.get<int64_t>(0) << ' ' << row.get<std::string_view>(1) << '\n';
 *
 * Ownership and lifetimes
 *   - Pool, Connection and Statement are move-only. A moved-from object is
 *     empty (it owns no handle) and its destructor does nothing.
 *   - ~Pool closes the pool if close() was not called. Connections still
 *     checked out stay usable and close at their checkin (C API rule), so
 *     a Connection may outlive its Pool object.
 *   - ~Connection checks the connection in; checkin() does it early.
 *   - ~Statement finalizes the statement; finalize() does it early.
 *   - Destructors never throw: a failure there is dropped, as a destructor
 *     has nowhere to report it (it still sets sqlpool_errmsg()).
 *
 *   Destroy or finalize() every Statement BEFORE its Connection is checked
 *   in. After the checkin the statement handle is stale: finalizing it then
 *   is SQLPOOL_MISUSE in the C API (detected, never a crash), so ~Statement
 *   just drops that error and finalize() throws it. Declaring the Statement
 *   after the Connection in the same scope gets the order right:
 *
 *       sqlpool::Pool pool("app.db");
 *       auto conn = pool.checkout();
 *       auto st = conn.prepare("SELECT name FROM users WHERE id = ?");
 *       st.bind(1, 42);
 *       while (st.step()) std::cout << st.get<std::string>(0) << '\n';
 *       // st is destroyed first, then conn is checked in.
 *
 * Threads: as in the C API. A Pool may be used from any thread at once
 * (checkout(), stats(), dispose(), close()), but not moved or destroyed
 * while in use; a Connection and its Statements by one thread at a time.
 *
 * Text read with get<std::string_view>() points into SQLite's buffer and is
 * valid until the next step(), reset() or finalize() (as sqlpool_column_text);
 * the other get<T>() return copies.
 *
 * checkin() and finalize() give up the handle even when they throw, and
 * ~Pool does not close a pool that close() was called on, so a destructor
 * never repeats them.
 */
#ifndef SQLPOOL_HPP
#define SQLPOOL_HPP

#include "sqlpool.h"

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace sqlpool {

/* A failing sqlpool call. what() is sqlpool_errmsg() at the time of the
 * failure (sqlpool_errstr(code) if that was empty). */
class Error : public std::runtime_error {
public:
    Error(int code, int sqlite_code, const std::string& message)
        : std::runtime_error(message), code_(code), sqlite_code_(sqlite_code) {}

    /* Builds the error of the call that just returned `code` on this thread. */
    static Error last(int code) {
        const char* msg = sqlpool_errmsg();
        if (msg == nullptr || *msg == '\0') msg = sqlpool_errstr(code);
        return Error(code, sqlpool_sqlite_errcode(), msg != nullptr ? msg : "");
    }

    /* An SQLPOOL_* code (SQLPOOL_SQLITE, SQLPOOL_MISUSE, ...). */
    int code() const noexcept { return code_; }
    /* The SQLite extended result code when code() == SQLPOOL_SQLITE, else 0. */
    int sqlite_code() const noexcept { return sqlite_code_; }

private:
    int code_;
    int sqlite_code_;
};

namespace detail {
inline void check(int rc) {
    if (rc != SQLPOOL_OK) throw Error::last(rc);
}
/* SQLite binds a NULL pointer as SQL NULL even with length 0; an empty
 * string or blob must stay empty, not become NULL. */
inline const char* nonnull(const char* p) noexcept { return p != nullptr ? p : ""; }
}  // namespace detail

/* The library's version, e.g. "0.1.0" (compare with SQLPOOL_VERSION_*). */
inline std::string version() { return detail::nonnull(sqlpool_version()); }

/* One call of a user-defined SQL function (Connection::create_function,
 * PoolOptions::functions): its arguments, 0-based, and its result. Valid
 * only during the call, on its thread. An argument index out of range reads
 * as NULL. The last result set wins; none gives NULL. */
class FunctionCall {
public:
    FunctionCall(sqlpool_context* ctx, int argc, sqlpool_value** argv) noexcept
        : ctx_(ctx), argc_(argc), argv_(argv) {}

    int argc() const noexcept { return argc_; }
    /* SQLPOOL_INTEGER, SQLPOOL_FLOAT, SQLPOOL_TEXT, SQLPOOL_BLOB or SQLPOOL_NULL. */
    int type(int i) const noexcept { return sqlpool_value_type(arg(i)); }
    bool is_null(int i) const noexcept { return type(i) == SQLPOOL_NULL; }
    /* T is int64_t, double, std::string, std::string_view (valid during the
     * call) or std::vector<uint8_t>, converted as sqlpool_value_*() do. */
    template <class T>
    T get(int i) const {
        const sqlpool_value* v = arg(i);
        if constexpr (std::is_same_v<T, int64_t>) {
            return sqlpool_value_int64(v);
        } else if constexpr (std::is_same_v<T, double>) {
            return sqlpool_value_double(v);
        } else if constexpr (std::is_same_v<T, std::string_view> || std::is_same_v<T, std::string>) {
            const char* p = sqlpool_value_text(v);
            if (p == nullptr) return T();
            return T(p, static_cast<size_t>(sqlpool_value_bytes(v)));
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
            const auto* p = static_cast<const uint8_t*>(sqlpool_value_blob(v));
            if (p == nullptr) return T();
            return T(p, p + sqlpool_value_bytes(v));
        } else {
            static_assert(sizeof(T) == 0,
                          "sqlpool::FunctionCall::get<T>: T must be int64_t, double, std::string, "
                          "std::string_view or std::vector<uint8_t>");
        }
    }

    void result(int64_t v) { detail::check(sqlpool_result_int64(ctx_, v)); }
    template <class T,
              std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, int64_t>, int> = 0>
    void result(T v) { result(static_cast<int64_t>(v)); }
    void result(double v) { detail::check(sqlpool_result_double(ctx_, v)); }
    /* Text is copied; invalid UTF-8 throws Error (SQLPOOL_INVALID_ARGUMENT). */
    void result(std::string_view v) {
        detail::check(sqlpool_result_text(ctx_, detail::nonnull(v.data()), static_cast<int64_t>(v.size())));
    }
    void result(const char* v) { result(std::string_view(v)); }
    void result(const std::string& v) { result(std::string_view(v)); }
    void result(const std::vector<uint8_t>& v) { result_blob(v.data(), v.size()); }
    void result(std::nullptr_t) { detail::check(sqlpool_result_null(ctx_)); }
    void result_blob(const void* data, size_t size) {
        detail::check(sqlpool_result_blob(ctx_, size == 0 ? nullptr : data, static_cast<int64_t>(size)));
    }
    /* The query fails with `message` (an exception thrown by the function does the same). */
    void error(const std::string& message) { detail::check(sqlpool_result_error(ctx_, message.c_str())); }

private:
    const sqlpool_value* arg(int i) const noexcept {
        return i >= 0 && i < argc_ ? argv_[i] : nullptr;
    }
    sqlpool_context* ctx_;
    int argc_;
    sqlpool_value** argv_;
};

/* A user-defined SQL function as a std::function. */
using Function = std::function<void(FunctionCall&)>;

/* A function registered on every connection of a pool (PoolOptions::functions). */
struct FunctionDef {
    std::string name;
    int n_args = -1; /* -1: any number */
    Function fn;
    bool deterministic = false;
};

namespace detail {
/* The C trampoline for a callable F: an exception becomes the query's error,
 * never crosses into the library. */
template <class F>
void call_function(sqlpool_context* ctx, int argc, sqlpool_value** argv, void* user_data) noexcept {
    try {
        FunctionCall call(ctx, argc, argv);
        (*static_cast<F*>(user_data))(call);
    } catch (const std::exception& e) {
        (void)sqlpool_result_error(ctx, e.what());
    } catch (...) {
        (void)sqlpool_result_error(ctx, "the function threw a C++ exception that is not a std::exception");
    }
}
template <class F>
void delete_function(void* user_data) noexcept {
    delete static_cast<F*>(user_data);
}
}  // namespace detail

/* sqlpool_options as a value; defaults are the C API's. */
struct PoolOptions {
    uint32_t pool_size = 5;
    int32_t max_overflow = 10;  /* -1: no limit */
    uint64_t timeout_ms = 30000;
    bool pre_ping = true;
    int64_t recycle_ms = 3600000;  /* -1: never */
    bool lifo = false;
    /* Who gets a returned connection while threads wait (sqlpool_options_set_fairness):
     * SQLPOOL_FAIRNESS_BOUNDED (default), _STRICT or _BARGING; threshold 0: default (2 ms). */
    int fairness = SQLPOOL_FAIRNESS_BOUNDED;
    uint64_t fairness_threshold_us = 0;
    /* 0.1's switch, if set: true is strict, false barging (overrides `fairness`). */
    std::optional<bool> fair;
    bool read_only = false;
    bool create = false;
    std::string init_sql;  /* empty: none */
    uint32_t busy_timeout_ms = 5000;
    uint32_t statement_cache_capacity = 32;
    std::optional<bool> read_snapshot;  /* unset: the library's default (on when read_only) */
    /* The read snapshot stays open this long across checkouts
     * (sqlpool_options_set_snapshot_linger_ms); 0: ended at checkin. */
    uint32_t snapshot_linger_ms = 0;
    int64_t leak_threshold_ms = -1;     /* -1: no leak detection */
    /* C callbacks, as sqlpool_options_set_event_callback / _log_callback:
     * user_data must outlive the pool and every connection checked out of it. */
    sqlpool_event_callback on_event = nullptr;
    void* on_event_user_data = nullptr;
    sqlpool_log_callback on_log = nullptr;
    void* on_log_user_data = nullptr;
    /* Registered on every connection the pool opens (sqlpool_options_add_function);
     * fn may run on several threads at once. */
    std::vector<FunctionDef> functions;
};

/* A borrowed byte range to bind as a BLOB. */
struct Blob {
    const void* data;
    size_t size;
};

/* Parameters for query(), 1..n in order, in sqlpool_bind_packed()'s format.
 * add() takes what Statement::bind() takes; text and bytes are copied. */
class Params {
public:
    Params() = default;
    template <class... Args>
    explicit Params(const Args&... args) {
        (add(args), ...);
    }
    Params& add(int64_t v) { return tagged(SQLPOOL_INTEGER, &v, 8); }
    template <class T, std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                            !std::is_same_v<T, int64_t>,
                                        int> = 0>
    Params& add(T v) {
        return add(static_cast<int64_t>(v));
    }
    Params& add(double v) { return tagged(SQLPOOL_FLOAT, &v, 8); }
    Params& add(std::string_view v) { return sized(SQLPOOL_TEXT, v.data(), v.size()); }
    Params& add(const char* v) { return v == nullptr ? add(nullptr) : add(std::string_view(v)); }
    Params& add(const std::string& v) { return add(std::string_view(v)); }
    Params& add(Blob v) { return sized(SQLPOOL_BLOB, v.data, v.size); }
    Params& add(const std::vector<uint8_t>& v) { return add(Blob{v.data(), v.size()}); }
    Params& add(std::nullptr_t) {
        bytes_.push_back(static_cast<unsigned char>(SQLPOOL_NULL));
        return *this;
    }
    const unsigned char* data() const noexcept { return bytes_.data(); }
    size_t size() const noexcept { return bytes_.size(); }

private:
    Params& tagged(int tag, const void* v, size_t n) {
        bytes_.push_back(static_cast<unsigned char>(tag));
        const auto* p = static_cast<const unsigned char*>(v);
        bytes_.insert(bytes_.end(), p, p + n);
        return *this;
    }
    Params& sized(int tag, const void* data, size_t n) {
        if (n > UINT32_MAX) throw Error(SQLPOOL_INVALID_ARGUMENT, 0, "a parameter of over 4 GiB");
        const auto len = static_cast<uint32_t>(n);
        tagged(tag, &len, 4);
        const auto* p = static_cast<const unsigned char*>(data);
        if (n != 0) bytes_.insert(bytes_.end(), p, p + n);
        return *this;
    }
    std::vector<unsigned char> bytes_;
};

/* One row of a query() result: a view into its Rows, valid while they live. */
class Row {
public:
    explicit Row(const unsigned char* row) noexcept : row_(row) {}
    int column_count() const noexcept { return static_cast<int>(u32(row_ + 4)); }
    /* SQLPOOL_INTEGER, _FLOAT, _TEXT, _BLOB or _NULL; NULL when out of range. */
    int column_type(int i) const noexcept {
        return in_range(i) ? static_cast<int>(row_[8 + i]) : SQLPOOL_NULL;
    }
    bool is_null(int i) const noexcept { return column_type(i) == SQLPOOL_NULL; }

    /* T is int, int64_t or double (from INTEGER or FLOAT, converted; NULL is
     * 0), or std::string, std::string_view or std::vector<uint8_t> (the bytes
     * of TEXT or BLOB; NULL is empty). Other pairs, and a column out of
     * range, throw Error (SQLPOOL_INVALID_ARGUMENT): the values were read
     * from SQLite already, so no conversion through it is possible. */
    template <class T>
    T get(int i) const {
        const int type = checked_type(i);
        if constexpr (std::is_same_v<T, int> || std::is_same_v<T, int64_t> ||
                      std::is_same_v<T, double>) {
            if (type == SQLPOOL_NULL) return T(0);
            if (type == SQLPOOL_INTEGER) return static_cast<T>(number<int64_t>(i));
            if (type == SQLPOOL_FLOAT) return static_cast<T>(number<double>(i));
            throw mismatch(i, "a number");
        } else if constexpr (std::is_same_v<T, std::string_view> ||
                             std::is_same_v<T, std::string> ||
                             std::is_same_v<T, std::vector<uint8_t>>) {
            if (type == SQLPOOL_NULL) return T();
            if (type != SQLPOOL_TEXT && type != SQLPOOL_BLOB) throw mismatch(i, "text or bytes");
            const auto [p, n] = bytes(i);
            if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
                return T(p, p + n);
            } else {
                return T(reinterpret_cast<const char*>(p), n);
            }
        } else {
            static_assert(sizeof(T) == 0,
                          "sqlpool::Row::get<T>: T must be int, int64_t, double, std::string, "
                          "std::string_view or std::vector<uint8_t>");
        }
    }

private:
    static uint32_t u32(const unsigned char* p) noexcept {
        uint32_t v;
        std::memcpy(&v, p, 4);
        return v;
    }
    static size_t width(int type) noexcept {
        return type == SQLPOOL_INTEGER || type == SQLPOOL_FLOAT ? 8
               : type == SQLPOOL_TEXT || type == SQLPOOL_BLOB   ? 4
                                                                : 0;
    }
    bool in_range(int i) const noexcept { return i >= 0 && i < column_count(); }
    int checked_type(int i) const {
        if (!in_range(i))
            throw Error(SQLPOOL_INVALID_ARGUMENT, 0,
                        "column " + std::to_string(i) + " is out of range: the row has " +
                            std::to_string(column_count()) + " columns");
        return row_[8 + i];
    }
    Error mismatch(int i, const char* wanted) const {
        static const char* const names[] = {"", "INTEGER", "FLOAT", "TEXT", "BLOB", "NULL"};
        return Error(SQLPOOL_INVALID_ARGUMENT, 0,
                     "column " + std::to_string(i) + " is " + names[row_[8 + i]] + ", not " + wanted);
    }
    /* Where column i's cell starts. */
    const unsigned char* cell(int i) const noexcept {
        const unsigned char* p = row_ + 8 + column_count();
        for (int j = 0; j < i; ++j) p += width(row_[8 + j]);
        return p;
    }
    template <class T>
    T number(int i) const noexcept {
        T v;
        std::memcpy(&v, cell(i), sizeof v);
        return v;
    }
    /* Column i's bytes: they follow the cells, in column order. */
    std::pair<const unsigned char*, size_t> bytes(int i) const noexcept {
        const int n = column_count();
        const unsigned char* cells = row_ + 8 + n;
        const unsigned char* data = cells;
        for (int j = 0; j < n; ++j) data += width(row_[8 + j]);
        const unsigned char* c = cells;
        for (int j = 0; j < i; ++j) {
            const int type = row_[8 + j];
            if (type == SQLPOOL_TEXT || type == SQLPOOL_BLOB) data += u32(c);
            c += width(type);
        }
        return {data, u32(c)};
    }
    const unsigned char* row_;
};

/* Every row of one query(), read in batches of rows (sqlpool_fetch()).
 * Move-only: its Rows point into its buffers. */
class Rows {
public:
    Rows() = default;
    Rows(Rows&&) noexcept = default;
    Rows& operator=(Rows&&) noexcept = default;
    Rows(const Rows&) = delete;
    Rows& operator=(const Rows&) = delete;

    size_t size() const noexcept { return rows_.size(); }
    bool empty() const noexcept { return rows_.empty(); }
    const Row& operator[](size_t i) const { return rows_.at(i); }
    std::vector<Row>::const_iterator begin() const noexcept { return rows_.begin(); }
    std::vector<Row>::const_iterator end() const noexcept { return rows_.end(); }

    /* Takes a buffer sqlpool_fetch() wrote `count` rows into. */
    void add(std::vector<unsigned char>&& buffer, uint32_t count) {
        const unsigned char* p = buffer.data();
        chunks_.push_back(std::move(buffer));  // moving keeps the bytes where they are
        for (uint32_t r = 0; r < count; ++r) {
            rows_.emplace_back(p);
            uint32_t size;
            std::memcpy(&size, p, 4);
            p += size;
        }
    }

private:
    std::vector<std::vector<unsigned char>> chunks_;
    std::vector<Row> rows_;
};

class Statement;
class Connection;

/* One prepared statement on a checked-out connection (sqlpool_stmt).
 * Finalize (or destroy) it before the connection is checked in. */
class Statement {
public:
    Statement() noexcept = default;
    /* Takes ownership of a handle from sqlpool_prepare(). */
    explicit Statement(sqlpool_stmt* stmt) noexcept : stmt_(stmt) {}
    Statement(Statement&& other) noexcept : stmt_(std::exchange(other.stmt_, nullptr)) {}
    Statement& operator=(Statement&& other) noexcept {
        if (this != &other) {
            drop();
            stmt_ = std::exchange(other.stmt_, nullptr);
        }
        return *this;
    }
    Statement(const Statement&) = delete;
    Statement& operator=(const Statement&) = delete;
    ~Statement() { drop(); }

    /* Parameters are 1-based, as in SQLite. */
    Statement& bind(int idx, int v) { return bind(idx, static_cast<int64_t>(v)); }
    Statement& bind(int idx, int64_t v) {
        detail::check(sqlpool_bind_int64(stmt_, idx, v));
        return *this;
    }
    /* Other integer types (unsigned, long long, char...) bind as int64_t. */
    template <class T,
              std::enable_if_t<std::is_integral_v<T> && !std::is_same_v<T, bool> &&
                                   !std::is_same_v<T, int> && !std::is_same_v<T, int64_t>,
                               int> = 0>
    Statement& bind(int idx, T v) {
        return bind(idx, static_cast<int64_t>(v));
    }
    Statement& bind(int idx, double v) {
        detail::check(sqlpool_bind_double(stmt_, idx, v));
        return *this;
    }
    /* Text is copied by the call. */
    Statement& bind(int idx, std::string_view v) {
        detail::check(sqlpool_bind_text(stmt_, idx, detail::nonnull(v.data()),
                                        static_cast<int64_t>(v.size())));
        return *this;
    }
    /* NUL-terminated; a NULL pointer is passed to the C API as is. */
    Statement& bind(int idx, const char* v) {
        detail::check(sqlpool_bind_text(stmt_, idx, v, -1));
        return *this;
    }
    Statement& bind(int idx, const std::string& v) { return bind(idx, std::string_view(v)); }
    /* Bytes are copied by the call; an empty blob binds as an empty BLOB. */
    Statement& bind(int idx, Blob v) {
        const void* p = (v.data == nullptr && v.size == 0) ? static_cast<const void*>("") : v.data;
        detail::check(sqlpool_bind_blob(stmt_, idx, p, static_cast<int64_t>(v.size)));
        return *this;
    }
    Statement& bind(int idx, const std::vector<uint8_t>& v) {
        return bind(idx, Blob{v.data(), v.size()});
    }
    Statement& bind(int idx, std::nullptr_t) {
        detail::check(sqlpool_bind_null(stmt_, idx));
        return *this;
    }

    /* true: a row is ready (SQLPOOL_ROW); false: done (SQLPOOL_DONE).
     * Anything else throws Error. */
    bool step() {
        int rc = sqlpool_step(stmt_);
        if (rc == SQLPOOL_ROW) return true;
        if (rc == SQLPOOL_DONE) return false;
        throw Error::last(rc);
    }
    /* Back to the start; bindings are kept (as sqlite3_reset). */
    void reset() { detail::check(sqlpool_reset(stmt_)); }

    /* Columns are 0-based. As in the C API, an index out of range reads as
     * NULL (0, 0.0, empty) rather than throwing. */
    int column_count() const noexcept { return sqlpool_column_count(stmt_); }
    std::string column_name(int i) const { return detail::nonnull(sqlpool_column_name(stmt_, i)); }
    /* The declared type of a table column ("INTEGER"); nullopt for an
     * expression or an index out of range (sqlpool_column_decltype; C++
     * reserves the name decltype). */
    std::optional<std::string> column_decltype(int i) const {
        const char* t = sqlpool_column_decltype(stmt_, i);
        if (t == nullptr) return std::nullopt;
        return std::string(t);
    }
    /* SQLPOOL_INTEGER, SQLPOOL_FLOAT, SQLPOOL_TEXT, SQLPOOL_BLOB or SQLPOOL_NULL. */
    int column_type(int i) const noexcept { return sqlpool_column_type(stmt_, i); }
    bool is_null(int i) const noexcept { return column_type(i) == SQLPOOL_NULL; }

    /* T is int, int64_t, double, std::string, std::string_view (valid until
     * the next step/reset/finalize) or std::vector<uint8_t>; SQLite converts
     * between storage classes as sqlite3_column_* does. */
    template <class T>
    T get(int i) const {
        if constexpr (std::is_same_v<T, int>) {
            return static_cast<int>(sqlpool_column_int64(stmt_, i));
        } else if constexpr (std::is_same_v<T, int64_t>) {
            return sqlpool_column_int64(stmt_, i);
        } else if constexpr (std::is_same_v<T, double>) {
            return sqlpool_column_double(stmt_, i);
        } else if constexpr (std::is_same_v<T, std::string_view> ||
                             std::is_same_v<T, std::string>) {
            /* text before bytes: the byte count is that of the text form */
            const char* p = sqlpool_column_text(stmt_, i);
            if (p == nullptr) return T();
            return T(p, static_cast<size_t>(sqlpool_column_bytes(stmt_, i)));
        } else if constexpr (std::is_same_v<T, std::vector<uint8_t>>) {
            const auto* p = static_cast<const uint8_t*>(sqlpool_column_blob(stmt_, i));
            if (p == nullptr) return T();
            return T(p, p + sqlpool_column_bytes(stmt_, i));
        } else {
            static_assert(sizeof(T) == 0,
                          "sqlpool::Statement::get<T>: T must be int, int64_t, double, "
                          "std::string, std::string_view or std::vector<uint8_t>");
        }
    }

    /* Returns the statement to its connection's cache. The handle is given
     * up even when this throws (e.g. MISUSE after the connection's checkin). */
    void finalize() { detail::check(sqlpool_finalize(std::exchange(stmt_, nullptr))); }

    explicit operator bool() const noexcept { return stmt_ != nullptr; }
    sqlpool_stmt* get() const noexcept { return stmt_; }

private:
    void drop() noexcept {
        if (stmt_ != nullptr) (void)sqlpool_finalize(std::exchange(stmt_, nullptr));
    }
    sqlpool_stmt* stmt_ = nullptr;
};

/* One connection checked out of a Pool (sqlpool_conn); checked in by the
 * destructor or checkin(). Use it from one thread at a time. */
class Connection {
public:
    Connection() noexcept = default;
    /* Takes ownership of a handle from sqlpool_checkout(). */
    explicit Connection(sqlpool_conn* conn) noexcept : conn_(conn) {}
    Connection(Connection&& other) noexcept : conn_(std::exchange(other.conn_, nullptr)) {}
    Connection& operator=(Connection&& other) noexcept {
        if (this != &other) {
            drop();
            conn_ = std::exchange(other.conn_, nullptr);
        }
        return *this;
    }
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    ~Connection() { drop(); }

    /* Runs one or more statements; rows are discarded. */
    void exec(const std::string& sql) { detail::check(sqlpool_exec(conn_, sql.c_str())); }
    /* Prepares (or takes from the connection's cache) one statement. */
    Statement prepare(const std::string& sql) {
        sqlpool_stmt* stmt = nullptr;
        detail::check(sqlpool_prepare(conn_, sql.c_str(), &stmt));
        return Statement(stmt);
    }
    /* Runs the first statement of `sql` with `params` and returns all its
     * rows: one sqlpool_query() call, then one sqlpool_fetch() per buffer
     * of rows (16 KiB at first, larger when a row needs it). */
    Rows query(std::string_view sql, const Params& params = Params()) {
        Rows rows;
        std::vector<unsigned char> buffer(16 * 1024);
        uint32_t count = 0;
        size_t used = 0;
        sqlpool_stmt* raw = nullptr;
        int rc = sqlpool_query(conn_, detail::nonnull(sql.data()), static_cast<int64_t>(sql.size()),
                               params.data(), params.size(), buffer.data(), buffer.size(), 0, &raw,
                               &count, &used);
        Statement statement(raw);  // finalized on the way out, also on a throw
        for (;;) {
            if (rc != SQLPOOL_ROW && rc != SQLPOOL_DONE) throw Error::last(rc);
            if (count == 0 && rc == SQLPOOL_ROW) {
                buffer.resize(std::max(used, 2 * buffer.size()));  // one row did not fit
            } else {
                const size_t capacity = buffer.size();
                buffer.resize(used);
                rows.add(std::move(buffer), count);
                if (rc == SQLPOOL_DONE) return rows;
                buffer = std::vector<unsigned char>(capacity);
            }
            rc = sqlpool_fetch(statement.get(), buffer.data(), buffer.size(), 0, &count, &used);
        }
    }
    template <class... Args>
    Rows query(std::string_view sql, const Args&... params) {
        return query(sql, Params(params...));
    }

    /* Registers `f`, a callable taking a FunctionCall&, as the SQL function
     * `name` with `n_args` arguments (-1: any number) for as long as this
     * pooled connection lives (later holders see it too). The callable is
     * moved to the heap and deleted when the function is replaced, the
     * connection closes, or this throws. */
    template <class F>
    void create_function(const std::string& name, int n_args, F&& f, bool deterministic = false) {
        using Callable = std::decay_t<F>;
        detail::check(sqlpool_conn_create_function(conn_, name.c_str(), n_args,
                                                   deterministic ? SQLPOOL_DETERMINISTIC : 0,
                                                   &detail::call_function<Callable>,
                                                   new Callable(std::forward<F>(f)),
                                                   &detail::delete_function<Callable>));
    }
    /* Rows changed by the last INSERT/UPDATE/DELETE on this pooled connection. */
    int64_t changes() const {
        int64_t n = 0;
        detail::check(sqlpool_conn_changes(conn_, &n));
        return n;
    }
    /* The rowid of the last successful INSERT on this pooled connection. */
    int64_t last_insert_rowid() const {
        int64_t n = 0;
        detail::check(sqlpool_conn_last_insert_rowid(conn_, &n));
        return n;
    }
    /* Whether the holder's own transaction (BEGIN) is open; the read snapshot does not count. */
    bool in_transaction() const {
        bool open = false;
        detail::check(sqlpool_conn_in_transaction(conn_, &open));
        return open;
    }

    /* The connection is closed, not reused, at its checkin. */
    void invalidate() { detail::check(sqlpool_conn_invalidate(conn_)); }
    /* Names the holder in leak reports (sqlpool_conn_set_tag); empty clears it. */
    void set_tag(const std::string& tag) {
        detail::check(sqlpool_conn_set_tag(conn_, tag.empty() ? nullptr : tag.c_str()));
    }
    /* Returns the connection to the pool now. The handle is given up even
     * when this throws. Finalize this connection's Statements first. */
    void checkin() { detail::check(sqlpool_checkin(std::exchange(conn_, nullptr))); }

    /* false once checked in or moved from. */
    explicit operator bool() const noexcept { return conn_ != nullptr; }
    sqlpool_conn* get() const noexcept { return conn_; }

private:
    void drop() noexcept {
        if (conn_ != nullptr) (void)sqlpool_checkin(std::exchange(conn_, nullptr));
    }
    sqlpool_conn* conn_ = nullptr;
};

/* A pool of connections to one database file (sqlpool_pool). Safe to use
 * from several threads at once. */
class Pool {
public:
    /* Opens (and checks) the database now; throws Error on failure. */
    explicit Pool(const std::string& path, const PoolOptions& options = {}) {
        std::unique_ptr<sqlpool_options, void (*)(sqlpool_options*)> opts(
            sqlpool_options_new(), &sqlpool_options_free);
        if (!opts) throw Error(SQLPOOL_INTERNAL, 0, "sqlpool_options_new failed");
        sqlpool_options* o = opts.get();
        detail::check(sqlpool_options_set_pool_size(o, options.pool_size));
        detail::check(sqlpool_options_set_max_overflow(o, options.max_overflow));
        detail::check(sqlpool_options_set_timeout_ms(o, options.timeout_ms));
        detail::check(sqlpool_options_set_pre_ping(o, options.pre_ping));
        detail::check(sqlpool_options_set_recycle_ms(o, options.recycle_ms));
        detail::check(sqlpool_options_set_lifo(o, options.lifo));
        detail::check(
            sqlpool_options_set_fairness(o, options.fairness, options.fairness_threshold_us));
        if (options.fair.has_value()) detail::check(sqlpool_options_set_fair(o, *options.fair));
        detail::check(sqlpool_options_set_read_only(o, options.read_only));
        detail::check(sqlpool_options_set_create(o, options.create));
        if (!options.init_sql.empty())
            detail::check(sqlpool_options_set_init_sql(o, options.init_sql.c_str()));
        detail::check(sqlpool_options_set_busy_timeout_ms(o, options.busy_timeout_ms));
        detail::check(
            sqlpool_options_set_statement_cache_capacity(o, options.statement_cache_capacity));
        if (options.read_snapshot.has_value())
            detail::check(sqlpool_options_set_read_snapshot(o, *options.read_snapshot));
        detail::check(sqlpool_options_set_snapshot_linger_ms(o, options.snapshot_linger_ms));
        detail::check(sqlpool_options_set_leak_threshold_ms(o, options.leak_threshold_ms));
        detail::check(sqlpool_options_set_event_callback(o, options.on_event, options.on_event_user_data));
        detail::check(sqlpool_options_set_log_callback(o, options.on_log, options.on_log_user_data));
        for (const FunctionDef& f : options.functions) {
            if (!f.fn) throw Error(SQLPOOL_INVALID_ARGUMENT, 0, "function '" + f.name + "' has an empty fn");
            /* The library deletes the copy when it is done with it, also when
             * the registration fails. */
            detail::check(sqlpool_options_add_function(o, f.name.c_str(), f.n_args,
                                                       f.deterministic ? SQLPOOL_DETERMINISTIC : 0,
                                                       &detail::call_function<Function>, new Function(f.fn),
                                                       &detail::delete_function<Function>));
        }
        detail::check(sqlpool_open(path.c_str(), o, &pool_));
    }
    Pool(Pool&& other) noexcept
        : pool_(std::exchange(other.pool_, nullptr)),
          closed_(other.closed_.exchange(false, std::memory_order_relaxed)) {}
    Pool& operator=(Pool&& other) noexcept {
        if (this != &other) {
            drop();
            pool_ = std::exchange(other.pool_, nullptr);
            closed_.store(other.closed_.exchange(false, std::memory_order_relaxed),
                          std::memory_order_relaxed);
        }
        return *this;
    }
    Pool(const Pool&) = delete;
    Pool& operator=(const Pool&) = delete;
    ~Pool() { drop(); }

    /* Waits up to timeout_ms for a connection; throws Error (SQLPOOL_TIMEOUT,
     * SQLPOOL_CLOSED, ...) otherwise. */
    Connection checkout() {
        sqlpool_conn* conn = nullptr;
        detail::check(sqlpool_checkout(pool_, &conn));
        return Connection(conn);
    }
    /* Connection::query() on a connection checked out for the call. */
    Rows query(std::string_view sql, const Params& params = Params()) { return checkout().query(sql, params); }
    template <class... Args>
    Rows query(std::string_view sql, const Args&... params) {
        return query(sql, Params(params...));
    }
    sqlpool_stats stats() const {
        sqlpool_stats s{};
        detail::check(sqlpool_get_stats(pool_, &s, sizeof s));
        return s;
    }
    /* SQLAlchemy's QueuePool.status() wording (sqlpool_status). */
    std::string status() const { return text(sqlpool_status); }
    /* The Prometheus text exposition format (sqlpool_metrics_prometheus). */
    std::string prometheus() const { return text(sqlpool_metrics_prometheus); }
    /* Closes the idle connections; new ones open on demand. */
    void dispose() { detail::check(sqlpool_dispose(pool_)); }
    /* Closes the pool (sqlpool_close): idle connections close now, checked-out
     * Connections stay usable until their checkin, threads waiting in
     * checkout() wake with SQLPOOL_CLOSED. May be called while other threads
     * use the Pool. The handle is kept (get() still returns it) so later
     * calls get the C API's answer for a closed pool; closing twice throws
     * SQLPOOL_MISUSE. */
    void close() {
        closed_.store(true, std::memory_order_relaxed);
        detail::check(sqlpool_close(pool_));
    }

    /* The C handle, for calls this header does not wrap. Still owned by
     * the Pool; after close() it may be stale (calls on it then return
     * SQLPOOL_CLOSED or SQLPOOL_MISUSE, as the C API says). */
    sqlpool_pool* get() const noexcept { return pool_; }

private:
    /* Sizes, then fills, a text the C API writes into a caller's buffer. */
    std::string text(int (*fn)(const sqlpool_pool*, char*, size_t, size_t*)) const {
        for (;;) {
            size_t needed = 0;
            detail::check(fn(pool_, nullptr, 0, &needed));
            std::string out(needed, '\0');
            int rc = fn(pool_, out.data(), out.size(), &needed);
            if (rc == SQLPOOL_INVALID_ARGUMENT) continue;  /* grew in between: again */
            detail::check(rc);
            out.resize(needed - 1);
            return out;
        }
    }
    void drop() noexcept {
        if (pool_ != nullptr && !closed_.exchange(true, std::memory_order_relaxed))
            (void)sqlpool_close(pool_);
        pool_ = nullptr;
    }
    sqlpool_pool* pool_ = nullptr;
    std::atomic<bool> closed_{false};
};

}  // namespace sqlpool

#endif /* SQLPOOL_HPP */
