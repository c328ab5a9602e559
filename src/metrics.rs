//! Operational metrics: counters and histograms kept with atomics (a lock
//! only where a new label value appears), and their Prometheus text form
//! (exposition format 0.0.4), written by hand. It must never hold anything a
//! caller sent beyond bounded label values (route templates, status codes),
//! so the series count stays fixed whatever the traffic.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// Bucket bounds of request latency, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];
/// Bucket bounds of audit commit latency, in seconds.
pub const COMMIT_BUCKETS: [f64; 10] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];
/// Bucket bounds of audit batch sizes, in records.
pub const BATCH_BUCKETS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 64.0, 256.0, 512.0, 1024.0];

/// A cumulative histogram with fixed bucket bounds.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// One count per bound, plus `+Inf`; not cumulative until rendered.
    counts: Vec<AtomicU64>,
    /// Sum of observations in millionths, to stay in integers.
    sum_micros: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [f64]) -> Histogram {
        Histogram {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_micros: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: f64) {
        let i = self
            .bounds
            .iter()
            .position(|b| value <= *b)
            .unwrap_or(self.bounds.len());
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        // Rounded to millionths; negative values (none are observed) count as 0.
        let micros = (value.max(0.0) * 1e6).round() as u64;
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    pub fn observe_duration(&self, d: Duration) {
        self.observe(d.as_secs_f64());
    }

    /// Writes the `_bucket`, `_sum` and `_count` lines of `name` with `labels`
    /// (already rendered, e.g. `route="/x"`, or empty).
    pub fn render(&self, out: &mut String, name: &str, labels: &str) {
        let sep = if labels.is_empty() { "" } else { "," };
        let mut cumulative = 0u64;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| b.to_string());
            let _ = writeln!(
                out,
                "{name}_bucket{{{labels}{sep}le=\"{le}\"}} {cumulative}"
            );
        }
        let sum = self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
        let braces = if labels.is_empty() {
            String::new()
        } else {
            format!("{{{labels}}}")
        };
        let _ = writeln!(out, "{name}_sum{braces} {sum}");
        let _ = writeln!(out, "{name}_count{braces} {cumulative}");
    }
}

/// Escapes a label value (backslash, double quote, line feed).
pub fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Writes the `# HELP` and `# TYPE` lines of a metric.
pub fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// Writes one sample line.
pub fn sample(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    if labels.is_empty() {
        let _ = writeln!(out, "{name} {value}");
    } else {
        let _ = writeln!(out, "{name}{{{labels}}} {value}");
    }
}

/// What the gateway counts about the requests it serves.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Requests by (route template, status).
    requests: Mutex<BTreeMap<(String, u16), u64>>,
    /// Latency by route template.
    latency: Mutex<BTreeMap<String, Arc<Histogram>>>,
    decisions_allow: AtomicU64,
    decisions_deny: AtomicU64,
    rows_queried: AtomicU64,
    rows_exported: AtomicU64,
    rows_imported: AtomicU64,
    rate_limited: AtomicU64,
}

/// Label value of requests no route matched: the path itself would let any
/// caller create series at will.
pub const UNMATCHED_ROUTE: &str = "unmatched";

impl Metrics {
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// Counts one answered request of `route` (a template, or
    /// [`UNMATCHED_ROUTE`]) with `status`, which took `elapsed`.
    pub fn request(&self, route: &str, status: u16, elapsed: Duration) {
        {
            let mut map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            *map.entry((route.to_string(), status)).or_insert(0) += 1;
        }
        let histogram = {
            let mut map = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(
                map.entry(route.to_string())
                    .or_insert_with(|| Arc::new(Histogram::new(&LATENCY_BUCKETS))),
            )
        };
        histogram.observe_duration(elapsed);
    }

    /// Counts one policy decision noted for the audit (`allow` or `deny`).
    pub fn decision(&self, decision: &str) {
        match decision {
            "allow" => self.decisions_allow.fetch_add(1, Ordering::Relaxed),
            _ => self.decisions_deny.fetch_add(1, Ordering::Relaxed),
        };
    }

    pub fn rows_queried(&self, n: u64) {
        self.rows_queried.fetch_add(n, Ordering::Relaxed);
    }

    pub fn rows_exported(&self, n: u64) {
        self.rows_exported.fetch_add(n, Ordering::Relaxed);
    }

    pub fn rows_imported(&self, n: u64) {
        self.rows_imported.fetch_add(n, Ordering::Relaxed);
    }

    pub fn rate_limited(&self) {
        self.rate_limited.fetch_add(1, Ordering::Relaxed);
    }

    /// Appends this gateway's request metrics in Prometheus text form.
    pub fn render(&self, out: &mut String) {
        let name = "kaifang_http_requests_total";
        header(
            out,
            name,
            "counter",
            "Requests answered, by route template and status.",
        );
        {
            let map = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
            for ((route, status), n) in map.iter() {
                let labels = format!("route=\"{}\",status=\"{status}\"", label(route));
                sample(out, name, &labels, n);
            }
        }
        let name = "kaifang_http_request_duration_seconds";
        header(
            out,
            name,
            "histogram",
            "Time from request to response head, by route template.",
        );
        let histograms: Vec<(String, Arc<Histogram>)> = {
            let map = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
            map.iter()
                .map(|(k, v)| (k.clone(), Arc::clone(v)))
                .collect()
        };
        for (route, histogram) in histograms {
            histogram.render(out, name, &format!("route=\"{}\"", label(&route)));
        }
        let name = "kaifang_policy_decisions_total";
        header(
            out,
            name,
            "counter",
            "Policy decisions noted for the audit record, by effect.",
        );
        let allow = self.decisions_allow.load(Ordering::Relaxed);
        let deny = self.decisions_deny.load(Ordering::Relaxed);
        sample(out, name, "effect=\"allow\"", allow);
        sample(out, name, "effect=\"deny\"", deny);
        let name = "kaifang_rows_sent_total";
        header(
            out,
            name,
            "counter",
            "Data rows sent to callers: pages of query answers, and streamed exports (counted when the stream ends).",
        );
        let queried = self.rows_queried.load(Ordering::Relaxed);
        let exported = self.rows_exported.load(Ordering::Relaxed);
        sample(out, name, "via=\"query\"", queried);
        sample(out, name, "via=\"export\"", exported);
        let name = "kaifang_rows_imported_total";
        header(
            out,
            name,
            "counter",
            "Data rows loaded by uploads over HTTP.",
        );
        sample(out, name, "", self.rows_imported.load(Ordering::Relaxed));
        let name = "kaifang_rate_limited_total";
        header(
            out,
            name,
            "counter",
            "Requests refused with 429 by the rate limit.",
        );
        sample(out, name, "", self.rate_limited.load(Ordering::Relaxed));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_with_inf() {
        let h = Histogram::new(&BATCH_BUCKETS);
        h.observe(1.0);
        h.observe(3.0);
        h.observe(5000.0);
        let mut out = String::new();
        h.render(&mut out, "b", "");
        assert!(out.contains("b_bucket{le=\"1\"} 1\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"4\"} 2\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"1024\"} 2\n"), "{out}");
        assert!(out.contains("b_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("b_sum 5004\n"), "{out}");
        assert!(out.contains("b_count 3\n"), "{out}");
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn requests_are_counted_by_route_and_status() {
        let m = Metrics::new();
        m.request("/v1/datasets", 200, Duration::from_millis(3));
        m.request("/v1/datasets", 200, Duration::from_millis(30));
        m.request("/v1/datasets", 404, Duration::from_millis(1));
        let mut out = String::new();
        m.render(&mut out);
        assert!(
            out.contains("kaifang_http_requests_total{route=\"/v1/datasets\",status=\"200\"} 2\n"),
            "{out}"
        );
        assert!(
            out.contains("kaifang_http_request_duration_seconds_count{route=\"/v1/datasets\"} 3\n")
        );
    }
}
