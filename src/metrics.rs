//! A pool's figures as text: SQLAlchemy's `status()` wording, and the
//! Prometheus text exposition format with HikariCP's metric names adapted.

use crate::events::WAIT_BUCKETS_SECONDS;
use crate::stats::Stats;
use std::fmt::Write;

/// Everything the text forms need, read at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metrics {
    pub stats: Stats,
    /// Checkouts by wait time: bucket i holds waits up to
    /// WAIT_BUCKETS_SECONDS[i] (not cumulative); the last is +Inf. Checkouts
    /// that did not wait count in the first bucket.
    pub wait_histogram: [u64; WAIT_BUCKETS_SECONDS.len() + 1],
    /// Closed at checkin because pool_size were already idle.
    pub closed_overflow: u64,
    /// Closed by dispose or close.
    pub closed_disposed: u64,
    /// Open connections allowed at most (None: unlimited).
    pub capacity: Option<u64>,
}

/// `QueuePool.status()`'s wording, so that logs read the same as before.
pub fn status(stats: &Stats) -> String {
    format!(
        "Pool size: {}  Connections in pool: {} Current Overflow: {} Current Checked out connections: {}",
        stats.pool_size, stats.idle, stats.overflow, stats.checked_out
    )
}

fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// The Prometheus text format (version 0.0.4) for one pool, labelled
/// `pool="<path>"`.
pub fn prometheus(path: &str, m: &Metrics) -> String {
    let s = &m.stats;
    let pool = format!("pool=\"{}\"", escape_label(path));
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, samples: &[(String, String)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (suffix_and_labels, value) in samples {
            let _ = writeln!(out, "{name}{suffix_and_labels} {value}");
        }
    };
    let one = |v: String| vec![(format!("{{{pool}}}"), v)];
    // Two separate counter loads: a connection created and closed between
    // them makes `closed` run ahead of `created` in the snapshot.
    let open = s.connections_created.saturating_sub(s.connections_closed);
    metric(
        "sqlpool_connections",
        "gauge",
        "Open connections.",
        &one(open.to_string()),
    );
    metric(
        "sqlpool_connections_active",
        "gauge",
        "Connections held by callers.",
        &one(s.checked_out.to_string()),
    );
    metric(
        "sqlpool_connections_idle",
        "gauge",
        "Connections open and idle in the pool.",
        &one(s.idle.to_string()),
    );
    metric(
        "sqlpool_connections_pending",
        "gauge",
        "Callers waiting in checkout.",
        &one(s.waiting.to_string()),
    );
    metric(
        "sqlpool_connections_min",
        "gauge",
        "pool_size: connections kept open.",
        &one(s.pool_size.to_string()),
    );
    let max = m.capacity.map_or("+Inf".to_owned(), |c| c.to_string());
    metric(
        "sqlpool_connections_max",
        "gauge",
        "pool_size + max_overflow.",
        &one(max),
    );
    metric(
        "sqlpool_connections_timeout_total",
        "counter",
        "Checkouts that timed out.",
        &one(s.timeouts.to_string()),
    );
    metric(
        "sqlpool_connections_created_total",
        "counter",
        "Connections opened.",
        &one(s.connections_created.to_string()),
    );
    let reasons = [
        ("invalidated", s.invalidated),
        ("recycled", s.recycled),
        ("pre_ping", s.pre_ping_failures),
        ("overflow", m.closed_overflow),
        ("disposed", m.closed_disposed),
    ];
    let closed: Vec<_> = reasons
        .iter()
        .map(|(reason, n)| (format!("{{{pool},reason=\"{reason}\"}}"), n.to_string()))
        .collect();
    metric(
        "sqlpool_connections_closed_total",
        "counter",
        "Connections closed, by reason.",
        &closed,
    );
    let mut buckets = Vec::new();
    let mut cumulative = 0;
    for (i, count) in m.wait_histogram.iter().enumerate() {
        cumulative += count;
        let le = WAIT_BUCKETS_SECONDS.get(i).map_or("+Inf".to_owned(), |b| b.to_string());
        buckets.push((format!("_bucket{{{pool},le=\"{le}\"}}"), cumulative.to_string()));
    }
    buckets.push((format!("_sum{{{pool}}}"), format!("{}", s.wait_ns_total as f64 / 1e9)));
    buckets.push((format!("_count{{{pool}}}"), cumulative.to_string()));
    metric(
        "sqlpool_connections_acquire_seconds",
        "histogram",
        "Time checkouts waited for a connection.",
        &buckets,
    );
    metric(
        "sqlpool_statement_cache_hits_total",
        "counter",
        "Prepares served by the statement cache.",
        &one(s.statement_cache_hits.to_string()),
    );
    metric(
        "sqlpool_statement_cache_misses_total",
        "counter",
        "Prepares that compiled SQL.",
        &one(s.statement_cache_misses.to_string()),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_uses_sqlalchemy_wording() {
        let stats = Stats {
            pool_size: 5,
            idle: 1,
            overflow: -3,
            checked_out: 1,
            ..Stats::default()
        };
        assert_eq!(
            status(&stats),
            "Pool size: 5  Connections in pool: 1 Current Overflow: -3 Current Checked out connections: 1"
        );
    }

    #[test]
    fn a_snapshot_with_more_closed_than_created_reports_zero_open_connections() {
        let m = Metrics {
            stats: Stats {
                connections_created: 4,
                connections_closed: 5,
                ..Stats::default()
            },
            wait_histogram: [0; 8],
            closed_overflow: 0,
            closed_disposed: 0,
            capacity: None,
        };
        let text = prometheus("p", &m);
        assert!(text.contains("sqlpool_connections{pool=\"p\"} 0\n"), "{text}");
    }

    #[test]
    fn histogram_is_cumulative_and_labels_are_escaped() {
        let m = Metrics {
            stats: Stats::default(),
            wait_histogram: [3, 1, 0, 0, 0, 0, 0, 1],
            closed_overflow: 0,
            closed_disposed: 0,
            capacity: Some(15),
        };
        let text = prometheus("a\"b\\c", &m);
        assert!(
            text.contains(r#"sqlpool_connections_acquire_seconds_bucket{pool="a\"b\\c",le="0.001"} 4"#),
            "{text}"
        );
        assert!(text.contains(r#"sqlpool_connections_acquire_seconds_bucket{pool="a\"b\\c",le="+Inf"} 5"#));
        assert!(text.contains(r#"sqlpool_connections_acquire_seconds_count{pool="a\"b\\c"} 5"#));
        assert!(text.contains(r#"sqlpool_connections_max{pool="a\"b\\c"} 15"#));
    }
}
