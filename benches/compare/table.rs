//! The ratio table: each row is one pair measured back to back in this run, with both
//! absolute figures beside the ratio and the target for it.

use std::fmt::Write as _;

/// Which way a figure is better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Better {
    /// Throughput-like (ratio = ours / reference).
    Higher,
    /// Time-like (ratio = reference / ours).
    Lower,
}

/// One measured pair.
#[derive(Debug, Clone)]
pub struct Row {
    /// Section (`embeddings`, `vector search`, `http`, …).
    pub section: &'static str,
    /// What ours is, e.g. `fastembed, batch 32`.
    pub ours: String,
    /// Our figure.
    pub ours_value: f64,
    /// What the reference is, e.g. `Python onnxruntime, batch 32`.
    pub reference: String,
    /// The reference's figure.
    pub ref_value: f64,
    /// Unit of both figures (`sentences/s`, `QPS`, `s`, …).
    pub unit: &'static str,
    /// Which way is better.
    pub better: Better,
    /// The target for the ratio (`Some(1.0)` = at least as good), if any.
    pub target: Option<f64>,
    /// Anything the figures need to be read right (recall, p99, sizes).
    pub note: String,
}

impl Row {
    /// ours / reference for [`Better::Higher`], reference / ours for [`Better::Lower`]
    /// (so above 1.0 is always "ours is better").
    pub fn ratio(&self) -> f64 {
        match self.better {
            Better::Higher => self.ours_value / self.ref_value,
            Better::Lower => self.ref_value / self.ours_value,
        }
    }

    /// Whether the target (if any) is met.
    pub fn met(&self) -> Option<bool> {
        self.target.map(|t| self.ratio() >= t)
    }
}

/// Rows in the order they were measured, plus free-form lines (curves, build times).
#[derive(Debug, Default)]
pub struct Table {
    rows: Vec<Row>,
    extra: Vec<String>,
}

/// Three significant figures, thousands separated: 1,234 / 12.3 / 0.123.
pub fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if a >= 1000.0 {
        let s = format!("{:.0}", v);
        let (sign, digits) = s.strip_prefix('-').map_or(("", s.as_str()), |d| ("-", d));
        let mut out = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                out.push(',');
            }
            out.push(c);
        }
        format!("{sign}{out}")
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

impl Table {
    /// Adds a row and prints it at once (a long run shows progress).
    pub fn push(&mut self, row: Row) {
        eprintln!(
            "  {}: {} {} {} vs {} {} {} -> {:.2}x",
            row.section,
            row.ours,
            fmt_num(row.ours_value),
            row.unit,
            row.reference,
            fmt_num(row.ref_value),
            row.unit,
            row.ratio()
        );
        self.rows.push(row);
    }

    /// A line printed after the table (e.g. a recall/QPS curve point).
    pub fn note(&mut self, line: impl Into<String>) {
        let line = line.into();
        eprintln!("  {line}");
        self.extra.push(line);
    }

    /// The rows.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The table as Markdown.
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "| section | ours | reference | ours | reference | ratio | target | met | notes |"
        );
        let _ = writeln!(s, "|---|---|---|---:|---:|---:|---:|---|---|");
        for r in &self.rows {
            let target = r.target.map_or("–".to_owned(), |t| format!("≥ {t:.2}×"));
            let met = match r.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "–",
            };
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} {} | {} {} | {:.2}× | {} | {} | {} |",
                r.section,
                r.ours,
                r.reference,
                fmt_num(r.ours_value),
                r.unit,
                fmt_num(r.ref_value),
                r.unit,
                r.ratio(),
                target,
                met,
                r.note
            );
        }
        if !self.extra.is_empty() {
            s.push('\n');
            for l in &self.extra {
                let _ = writeln!(s, "{l}");
            }
        }
        s
    }
}
