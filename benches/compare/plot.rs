//! Recall/QPS curves drawn into a PNG with plotters (one panel per data set, QPS on a log
//! scale). Text is drawn with DejaVu Sans (Debian's `fonts-dejavu-core`).

use crate::BenchResult;
use plotters::prelude::*;
use std::path::Path;

/// Embedded 1 client, embedded 8 clients, pgvector 1 client, pgvector 8 clients.
const COLORS: [RGBAColor; 4] = [
    RGBAColor(200, 30, 45, 1.0),
    RGBAColor(240, 130, 20, 1.0),
    RGBAColor(30, 90, 200, 1.0),
    RGBAColor(40, 160, 90, 1.0),
];

const FONT: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// One labelled curve: (recall, QPS) points in `ef` order.
#[derive(Debug, Clone)]
pub struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
}

impl Curve {
    /// A curve over `items`, each mapped to (recall, QPS).
    pub fn new<T>(label: String, items: &[T], f: impl Fn(&T) -> (f64, f64)) -> Self {
        Self {
            label,
            points: items.iter().map(f).collect(),
        }
    }

    /// The data set: the label's first word.
    fn dataset(&self) -> &str {
        self.label.split(' ').next().unwrap_or("")
    }
}

fn register_font() -> BenchResult<()> {
    let bytes = std::fs::read(FONT)
        .map_err(|e| format!("{FONT}: {e} (apt-get install fonts-dejavu-core)"))?;
    plotters::style::register_font(
        "sans-serif",
        FontStyle::Normal,
        Box::leak(bytes.into_boxed_slice()),
    )
    .map_err(|_| format!("{FONT} is not a usable font"))?;
    Ok(())
}

/// Draws `curves` into `path`, one panel per data set.
pub fn recall_qps(path: &Path, curves: &[Curve]) -> BenchResult<()> {
    register_font()?;
    let mut sets: Vec<&str> = Vec::new();
    for c in curves {
        if !sets.contains(&c.dataset()) {
            sets.push(c.dataset());
        }
    }
    let root = BitMapBackend::new(path, (1100, 520 * sets.len().max(1) as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let panels = root.split_evenly((sets.len().max(1), 1));
    for (area, set) in panels.iter().zip(&sets) {
        let mine: Vec<&Curve> = curves.iter().filter(|c| c.dataset() == *set).collect();
        let pts = mine.iter().flat_map(|c| c.points.iter());
        let (mut xmin, mut ymin, mut ymax) = (1.0f64, f64::MAX, 0.0f64);
        for &(x, y) in pts {
            xmin = xmin.min(x);
            ymin = ymin.min(y);
            ymax = ymax.max(y);
        }
        let xmin = (xmin - 0.02).clamp(0.0, 0.98);
        let (ymin, ymax) = ((ymin * 0.8).max(0.1), (ymax * 1.25).max(1.0));
        let mut chart = ChartBuilder::on(area)
            .caption(
                format!("{set}: recall@10 against queries per second (higher and further right is better)"),
                ("sans-serif", 20),
            )
            .margin(12)
            .x_label_area_size(45)
            .y_label_area_size(75)
            .build_cartesian_2d(xmin..1.0f64, (ymin..ymax).log_scale())?;
        chart
            .configure_mesh()
            .x_desc("recall@10")
            .y_desc("queries per second")
            .y_label_formatter(&|v| crate::table::fmt_num(*v))
            .label_style(("sans-serif", 14))
            .draw()?;
        for (i, c) in mine.iter().enumerate() {
            let color = COLORS[i % COLORS.len()];
            let dashed = c.label.contains("pgvector");
            let style = if dashed {
                color.stroke_width(2)
            } else {
                color.stroke_width(3)
            };
            chart
                .draw_series(LineSeries::new(c.points.clone(), style))?
                .label(c.label.clone())
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
            chart.draw_series(c.points.iter().map(|&p| {
                if dashed {
                    TriangleMarker::new(p, 5, color.filled()).into_dyn()
                } else {
                    Circle::new(p, 4, color.filled()).into_dyn()
                }
            }))?;
        }
        chart
            .configure_series_labels()
            .label_font(("sans-serif", 14))
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .position(SeriesLabelPosition::LowerLeft)
            .draw()?;
    }
    root.present()?;
    Ok(())
}
