//! The bench's output: result rows, the printed table and the JSON file.
//!
//! Every row is `scenario | metric | value | reference (same run) | ratio | target |
//! verdict`. The reference is measured in the same run on the same machine (the machine
//! is shared and noisy, so the ratio is the figure to compare across runs). Context figures
//! measured elsewhere carry the verdict `context` and no ratio.
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;

use serde_json::{Value, json};

/// A measured or descriptive value.
#[derive(Debug, Clone)]
pub(crate) enum Val {
    /// A number and its unit.
    Num(f64, &'static str),
    /// Free text ("not available: ...", a reference description).
    Text(String),
}

impl Val {
    /// Free text.
    pub(crate) fn text(s: impl Into<String>) -> Self {
        Val::Text(s.into())
    }

    fn render(&self) -> String {
        match self {
            Val::Num(v, unit) => {
                let n = if v.abs() >= 1000.0 || *v == v.trunc() {
                    format!("{v:.0}")
                } else if v.abs() >= 10.0 {
                    format!("{v:.1}")
                } else if v.abs() >= 0.1 {
                    format!("{v:.2}")
                } else {
                    format!("{v:.3}")
                };
                if unit.is_empty() {
                    n
                } else {
                    format!("{n} {unit}")
                }
            }
            Val::Text(s) => s.clone(),
        }
    }

    fn json(&self) -> Value {
        match self {
            Val::Num(v, unit) => json!({"value": v, "unit": unit}),
            Val::Text(s) => json!({"text": s}),
        }
    }
}

/// Outcome of a row against its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Target met.
    Pass,
    /// Target missed.
    Miss,
    /// No target: a figure for information.
    Info,
    /// A figure measured elsewhere, for comparison only.
    Context,
    /// The scenario could not be measured here.
    NotAvailable,
    /// The scenario failed to run (the bench exits non-zero).
    Error,
}

impl Verdict {
    /// PASS when `ok`, MISS otherwise.
    pub(crate) fn of(ok: bool) -> Self {
        if ok { Verdict::Pass } else { Verdict::Miss }
    }

    fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Miss => "MISS",
            Verdict::Info => "info",
            Verdict::Context => "context",
            Verdict::NotAvailable => "n/a",
            Verdict::Error => "ERROR",
        }
    }
}

/// One line of the table.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    pub(crate) scenario: &'static str,
    pub(crate) metric: String,
    pub(crate) value: Val,
    pub(crate) reference: Option<Val>,
    pub(crate) ratio: Option<f64>,
    pub(crate) target: Option<String>,
    pub(crate) verdict: Verdict,
}

impl Row {
    /// A row with a value and nothing else (verdict `info`).
    pub(crate) fn info(scenario: &'static str, metric: impl Into<String>, value: Val) -> Self {
        Self {
            scenario,
            metric: metric.into(),
            value,
            reference: None,
            ratio: None,
            target: None,
            verdict: Verdict::Info,
        }
    }

    /// "not available: <why>".
    pub(crate) fn not_available(
        scenario: &'static str,
        metric: impl Into<String>,
        why: impl std::fmt::Display,
    ) -> Self {
        Self {
            verdict: Verdict::NotAvailable,
            ..Self::info(scenario, metric, Val::text(format!("not available: {why}")))
        }
    }

    /// A figure measured elsewhere.
    pub(crate) fn context(scenario: &'static str, metric: &str, value: &str) -> Self {
        Self {
            verdict: Verdict::Context,
            ..Self::info(
                scenario,
                format!("[measured elsewhere] {metric}"),
                Val::text(value),
            )
        }
    }

    /// Adds a same-run reference; the ratio is value / reference when both are numbers.
    pub(crate) fn reference(mut self, reference: Val) -> Self {
        if let (Val::Num(v, _), Val::Num(r, _)) = (&self.value, &reference)
            && *r != 0.0
        {
            self.ratio = Some(v / r);
        }
        self.reference = Some(reference);
        self
    }

    /// Adds a target and its verdict.
    pub(crate) fn target(mut self, target: impl Into<String>, met: bool) -> Self {
        self.target = Some(target.into());
        self.verdict = Verdict::of(met);
        self
    }
}

/// Where and when the bench ran.
pub(crate) struct Header {
    pub(crate) command: String,
    pub(crate) date: String,
    pub(crate) machine: String,
    pub(crate) quick: bool,
}

const COLUMNS: [&str; 7] = [
    "scenario",
    "metric",
    "value",
    "reference (same run)",
    "ratio",
    "target",
    "verdict",
];

fn cells(r: &Row) -> [String; 7] {
    [
        r.scenario.to_owned(),
        r.metric.clone(),
        r.value.render(),
        r.reference.as_ref().map(Val::render).unwrap_or_default(),
        r.ratio.map(|x| format!("{x:.2}")).unwrap_or_default(),
        r.target.clone().unwrap_or_default(),
        r.verdict.as_str().to_owned(),
    ]
}

/// The table as Markdown (readable as plain text, pasteable into BENCHMARKS.md).
pub(crate) fn table(header: &Header, rows: &[Row]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "command: {}", header.command);
    let _ = writeln!(out, "date:    {}", header.date);
    let _ = writeln!(out, "machine: {}", header.machine);
    if header.quick {
        let _ = writeln!(
            out,
            "mode:    --quick (small sizes, short windows: a smoke test, not a measurement)"
        );
    }
    let _ = writeln!(out);
    let body: Vec<[String; 7]> = rows.iter().map(cells).collect();
    let mut widths = COLUMNS.map(|c| c.chars().count());
    for row in &body {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cols: &[String]| {
        let padded: Vec<String> = cols
            .iter()
            .zip(widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        format!("| {} |", padded.join(" | "))
    };
    let _ = writeln!(out, "{}", line(&COLUMNS.map(String::from)));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    let _ = writeln!(out, "{}", line(&rule));
    for row in &body {
        let _ = writeln!(out, "{}", line(row));
    }
    out
}

/// Prints the table on stdout.
pub(crate) fn print(header: &Header, rows: &[Row]) {
    println!("{}", table(header, rows));
}

/// The same rows as JSON.
pub(crate) fn to_json(header: &Header, rows: &[Row]) -> Value {
    let rows: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "scenario": r.scenario,
                "metric": r.metric,
                "value": r.value.json(),
                "reference": r.reference.as_ref().map(Val::json),
                "ratio": r.ratio,
                "target": r.target,
                "verdict": r.verdict.as_str(),
            })
        })
        .collect();
    json!({
        "command": header.command,
        "date": header.date,
        "machine": header.machine,
        "quick": header.quick,
        "rows": rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_and_verdict() {
        let r = Row::info("x", "m", Val::Num(2.0, "s"))
            .reference(Val::Num(4.0, "s"))
            .target("<= 3 s", true);
        assert_eq!(r.ratio, Some(0.5));
        assert_eq!(r.verdict, Verdict::Pass);
        let h = Header {
            command: "bench".into(),
            date: "d".into(),
            machine: "m".into(),
            quick: false,
        };
        let t = table(&h, &[r]);
        assert!(t.contains("| x        | m "), "{t}");
        assert!(t.contains("| 0.50  |"), "{t}");
    }
}
