//! SKAB (Skoltech Anomaly Benchmark) files and its point-wise metrics
//! (`../shared/datasets/skab/README.md`, FINDINGS.md §2.1).
//!
//! Each file is a `;`-separated CSV with a header: `datetime`, the 8 sensor columns of
//! [`SENSORS`], then `anomaly` and `changepoint` (0.0/1.0). Columns are found by name, so
//! their order does not matter. The protocol fits the detector on the first 400 rows of each
//! file and scores the rest; TP/TN/FP/FN are pooled over files ([`Confusion`]). Parsing works
//! on text, no file access.

use thiserror::Error;

use super::hotelling::{Detector, DetectorConfig, HotellingError};

/// The sensor columns, in the order they are fed to the detector.
pub const SENSORS: [&str; 8] = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
];

/// A malformed file.
#[derive(Debug, Error, PartialEq)]
pub enum SkabError {
    /// A required column is not in the header.
    #[error("header has no column {0:?}")]
    Header(String),
    /// Wrong number of fields.
    #[error("line {line}: {got} fields, expected {expected}")]
    Columns {
        /// 1-based line number.
        line: usize,
        /// Fields found.
        got: usize,
        /// Fields in the header.
        expected: usize,
    },
    /// A value is not a number.
    #[error("line {line}: cannot parse {value:?} as a number")]
    Number {
        /// 1-based line number.
        line: usize,
        /// The offending text.
        value: String,
    },
    /// No data rows at all.
    #[error("no data rows")]
    Empty,
}

/// One labelled experiment.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// `rows[t]` = the [`SENSORS`] values at second t.
    pub rows: Vec<Vec<f64>>,
    /// Ground truth per row.
    pub anomaly: Vec<bool>,
}

/// Parses one labelled SKAB CSV file.
pub fn parse(text: &str) -> Result<Recording, SkabError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, header) = lines.next().ok_or(SkabError::Empty)?;
    let names: Vec<&str> = header.split(';').map(str::trim).collect();
    let find = |want: &str| {
        names
            .iter()
            .position(|n| *n == want)
            .ok_or_else(|| SkabError::Header(want.to_owned()))
    };
    let sensor_idx = SENSORS
        .iter()
        .map(|s| find(s))
        .collect::<Result<Vec<_>, _>>()?;
    let anomaly_idx = find("anomaly")?;
    let mut rec = Recording {
        rows: Vec::new(),
        anomaly: Vec::new(),
    };
    for (i, l) in lines {
        let line = i + 1;
        let fields: Vec<&str> = l.split(';').map(str::trim).collect();
        if fields.len() != names.len() {
            return Err(SkabError::Columns {
                line,
                got: fields.len(),
                expected: names.len(),
            });
        }
        let number = |j: usize| {
            fields[j].parse::<f64>().map_err(|_| SkabError::Number {
                line,
                value: fields[j].to_owned(),
            })
        };
        rec.rows.push(
            sensor_idx
                .iter()
                .map(|&j| number(j))
                .collect::<Result<_, _>>()?,
        );
        rec.anomaly.push(number(anomaly_idx)? > 0.5);
    }
    if rec.rows.is_empty() {
        return Err(SkabError::Empty);
    }
    Ok(rec)
}

/// Pooled point-wise counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Alarm on an anomalous row.
    pub tp: u64,
    /// No alarm on a normal row.
    pub tn: u64,
    /// Alarm on a normal row.
    pub fp: u64,
    /// No alarm on an anomalous row.
    pub fn_: u64,
}

impl Confusion {
    /// Counts predictions against the truth (same length; extra items are ignored).
    pub fn from_pairs(pred: &[bool], truth: &[bool]) -> Self {
        let mut c = Self::default();
        for (p, t) in pred.iter().zip(truth) {
            match (p, t) {
                (true, true) => c.tp += 1,
                (false, false) => c.tn += 1,
                (true, false) => c.fp += 1,
                (false, true) => c.fn_ += 1,
            }
        }
        c
    }

    /// Adds another file's counts.
    pub fn add(&mut self, o: &Self) {
        self.tp += o.tp;
        self.tn += o.tn;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }

    /// Rows counted.
    pub fn total(&self) -> u64 {
        self.tp + self.tn + self.fp + self.fn_
    }

    /// F1 = TP / (TP + (FP + FN)/2) (0 when nothing is positive).
    pub fn f1(&self) -> f64 {
        let d = self.tp as f64 + (self.fp + self.fn_) as f64 / 2.0;
        if d > 0.0 { self.tp as f64 / d } else { 0.0 }
    }

    /// False-alarm rate, % of normal rows alarmed.
    pub fn far(&self) -> f64 {
        ratio(self.fp, self.fp + self.tn)
    }

    /// Missed-alarm rate, % of anomalous rows not alarmed.
    pub fn mar(&self) -> f64 {
        ratio(self.fn_, self.fn_ + self.tp)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64 * 100.0
    }
}

/// One file's outcome under the protocol.
#[derive(Debug, Clone, PartialEq)]
pub struct FileScore {
    /// The detector on the scored rows.
    pub ours: Confusion,
    /// "Always alarm" on the same rows.
    pub all_ones: Confusion,
    /// How often each input was the top contributor on an alarmed row.
    pub top_on_alarm: [u64; SENSORS.len()],
}

/// Runs a fresh [`Detector`] over the file: the first `fit_rows` rows calibrate, every
/// later row is scored.
pub fn score(rec: &Recording, config: &DetectorConfig) -> Result<FileScore, HotellingError> {
    let mut det = Detector::new(config.clone());
    let mut pred = Vec::with_capacity(rec.rows.len());
    let mut truth = Vec::with_capacity(rec.rows.len());
    let mut top_on_alarm = [0u64; SENSORS.len()];
    for (row, label) in rec.rows.iter().zip(&rec.anomaly) {
        if let Some(v) = det.push(row)? {
            pred.push(v.alarm);
            truth.push(*label);
            if v.alarm
                && let Some(i) = v.score.top()
                && i < top_on_alarm.len()
            {
                top_on_alarm[i] += 1;
            }
        }
    }
    Ok(FileScore {
        ours: Confusion::from_pairs(&pred, &truth),
        all_ones: Confusion::from_pairs(&vec![true; truth.len()], &truth),
        top_on_alarm,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_hand_case() {
        let truth = [
            false, false, false, false, true, true, true, true, true, false,
        ];
        let pred = [
            false, true, false, false, false, true, true, true, true, true,
        ];
        let c = Confusion::from_pairs(&pred, &truth);
        assert_eq!(
            c,
            Confusion {
                tp: 4,
                tn: 3,
                fp: 2,
                fn_: 1
            }
        );
        // F1 = 4 / (4 + 1.5); FAR = 2/5; MAR = 1/5.
        assert!((c.f1() - 4.0 / 5.5).abs() < 1e-12);
        assert!((c.far() - 40.0).abs() < 1e-12);
        assert!((c.mar() - 20.0).abs() < 1e-12);
        let mut pooled = c;
        pooled.add(&Confusion::from_pairs(&[true, true], &[true, false]));
        assert_eq!((pooled.tp, pooled.fp, pooled.total()), (5, 3, 12));
        let ones = Confusion::from_pairs(&[true; 10], &truth);
        assert!((ones.f1() - 5.0 / 7.5).abs() < 1e-12 && ones.far() == 100.0);
        assert_eq!(Confusion::default().f1(), 0.0);
    }

    #[test]
    fn parses_by_column_name() {
        let text = "datetime;Accelerometer1RMS;Accelerometer2RMS;Current;Pressure;Temperature;\
                    Thermocouple;Voltage;Volume Flow RateRMS;anomaly;changepoint\n\
                    2020-03-09 10:14:33;0.02;0.04;1.33;0.05;79.3;26.0;233.0;32.0;0.0;0.0\n\
                    2020-03-09 10:14:34;0.03;0.05;1.35;0.38;79.5;26.1;236.0;32.0;1.0;1.0\n";
        let r = parse(text).unwrap();
        assert_eq!(r.rows.len(), 2);
        assert_eq!(
            r.rows[1],
            vec![0.03, 0.05, 1.35, 0.38, 79.5, 26.1, 236.0, 32.0]
        );
        assert_eq!(r.anomaly, vec![false, true]);
        let bad = text.replace("0.38", "x");
        assert!(matches!(
            parse(&bad),
            Err(SkabError::Number { line: 3, .. })
        ));
        let no_label = "datetime;Current\n2020;1.0\n";
        assert!(matches!(parse(no_label), Err(SkabError::Header(_))));
        assert_eq!(parse(""), Err(SkabError::Empty));
    }
}
