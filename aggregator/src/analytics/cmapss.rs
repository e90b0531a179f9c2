//! NASA C-MAPSS text files and the benchmark's metrics (`../shared/datasets/cmapss/README.md`).
//!
//! `train_FD00x.txt` / `test_FD00x.txt`: whitespace-separated rows of 26 columns, unit id,
//! cycle (1, 2, … per unit), 3 operating settings, sensors s1..s21. `RUL_FD00x.txt`: one
//! true remaining life per test unit, in unit order. Parsing works on text, no file access.

use thiserror::Error;

/// Sensor columns per row (s1..s21).
pub const SENSORS: usize = 21;
const COLUMNS: usize = 5 + SENSORS;

/// A malformed file.
#[derive(Debug, Error, PartialEq)]
pub enum CmapssError {
    /// Wrong number of columns.
    #[error("line {line}: {got} columns, expected {COLUMNS}")]
    Columns {
        /// 1-based line number.
        line: usize,
        /// Columns found.
        got: usize,
    },
    /// A value is not a number.
    #[error("line {line}: cannot parse {value:?} as a number")]
    Number {
        /// 1-based line number.
        line: usize,
        /// The offending text.
        value: String,
    },
    /// Units must appear as consecutive blocks with cycles 1, 2, 3, …
    #[error("line {line}: unit {unit} cycle {cycle} out of order")]
    Order {
        /// 1-based line number.
        line: usize,
        /// Unit id.
        unit: u32,
        /// Cycle found.
        cycle: u32,
    },
    /// No rows at all.
    #[error("no data rows")]
    Empty,
}

/// One engine's history: one sensor vector (s1..s21) per cycle, cycle 1 first.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    /// Engine id as in the file.
    pub id: u32,
    /// `sensors[t]` = s1..s21 at cycle t + 1.
    pub sensors: Vec<Vec<f64>>,
}

fn number(line: usize, s: &str) -> Result<f64, CmapssError> {
    s.parse().map_err(|_| CmapssError::Number {
        line,
        value: s.to_owned(),
    })
}

/// Parses a train or test file into units in file order.
pub fn parse_units(text: &str) -> Result<Vec<Unit>, CmapssError> {
    let mut units: Vec<Unit> = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let line = i + 1;
        let cols: Vec<&str> = l.split_whitespace().collect();
        if cols.is_empty() {
            continue;
        }
        if cols.len() != COLUMNS {
            return Err(CmapssError::Columns {
                line,
                got: cols.len(),
            });
        }
        let unit = number(line, cols[0])? as u32;
        let cycle = number(line, cols[1])? as u32;
        let sensors = cols[5..]
            .iter()
            .map(|s| number(line, s))
            .collect::<Result<Vec<f64>, _>>()?;
        let seen = units.iter().any(|u| u.id == unit);
        match units.last_mut() {
            Some(u) if u.id == unit && cycle as usize == u.sensors.len() + 1 => {
                u.sensors.push(sensors);
            }
            _ if !seen && cycle == 1 => units.push(Unit {
                id: unit,
                sensors: vec![sensors],
            }),
            _ => return Err(CmapssError::Order { line, unit, cycle }),
        }
    }
    if units.is_empty() {
        return Err(CmapssError::Empty);
    }
    Ok(units)
}

/// Parses an `RUL_FD00x.txt` file: one value per non-empty line.
pub fn parse_rul(text: &str) -> Result<Vec<f64>, CmapssError> {
    let v = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| number(i + 1, l.trim()))
        .collect::<Result<Vec<f64>, _>>()?;
    if v.is_empty() {
        return Err(CmapssError::Empty);
    }
    Ok(v)
}

/// Root mean squared error of `pred` against `truth` (NaN when empty).
pub fn rmse(pred: &[f64], truth: &[f64]) -> f64 {
    let se: f64 = pred.iter().zip(truth).map(|(p, t)| (p - t).powi(2)).sum();
    (se / pred.len().min(truth.len()) as f64).sqrt()
}

/// PHM'08 score: Σ exp(−d/13) − 1 for d < 0, exp(d/10) − 1 otherwise, d = pred − true.
pub fn phm_score(pred: &[f64], truth: &[f64]) -> f64 {
    pred.iter()
        .zip(truth)
        .map(|(p, t)| {
            let d = p - t;
            if d < 0.0 {
                (-d / 13.0).exp() - 1.0
            } else {
                (d / 10.0).exp() - 1.0
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn row(unit: u32, cycle: u32, s1: f64) -> String {
        let mut r = format!("{unit} {cycle} -0.0007 -0.0004 100.0 {s1}");
        for k in 2..=SENSORS {
            r.push_str(&format!(" {}.5", k));
        }
        r.push_str("  ");
        r
    }

    #[test]
    fn parses_units_and_rul() {
        let text = [row(1, 1, 518.67), row(1, 2, 519.0), row(2, 1, 1.0)].join("\n");
        let u = parse_units(&text).unwrap();
        assert_eq!(u.len(), 2);
        assert_eq!(u[0].id, 1);
        assert_eq!(u[0].sensors.len(), 2);
        assert_eq!(u[0].sensors[1][0], 519.0);
        assert_eq!(u[0].sensors[1][20], 21.5);
        assert_eq!(parse_rul("112 \n98 \n\n").unwrap(), vec![112.0, 98.0]);
    }

    #[test]
    fn rejects_bad_files() {
        assert_eq!(
            parse_units("1 1 2 3"),
            Err(CmapssError::Columns { line: 1, got: 4 })
        );
        let text = [row(1, 1, 1.0), row(1, 3, 1.0)].join("\n");
        assert_eq!(
            parse_units(&text),
            Err(CmapssError::Order {
                line: 2,
                unit: 1,
                cycle: 3
            })
        );
        assert!(matches!(
            parse_rul("12\nx"),
            Err(CmapssError::Number { line: 2, .. })
        ));
        assert_eq!(parse_units(""), Err(CmapssError::Empty));
    }

    #[test]
    fn metrics() {
        assert_eq!(rmse(&[1.0, 3.0], &[1.0, 1.0]), 2.0_f64.sqrt());
        // Late by 10: e − 1; early by 13: e − 1.
        let s = phm_score(&[20.0, 0.0], &[10.0, 13.0]);
        assert!((s - 2.0 * (std::f64::consts::E - 1.0)).abs() < 1e-12);
        assert_eq!(phm_score(&[5.0], &[5.0]), 0.0);
    }
}
