//! The real series the oracle observes, and quotes of them as many sources would give.
//!
//! Two series ship in `datasets/` (written from the PyPI package `vega-datasets` by
//! `scripts/make_oracle_datasets.py`): Seattle's daily weather 2012–2015 (the
//! crop-insurance rainfall index) and monthly closing prices of five stocks 2000–2010.
//!
//! For "ten exchanges quoting one asset", [`QuoteModel`] derives per-source quotes from a
//! real series: each source's quote is the true value with seeded multiplicative noise,
//! sometimes one step late (latency), sometimes missing (outage), and then any
//! [`Attack`] applied. Everything is a function of the seed, so a run is reproducible.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Seattle's daily weather, as shipped in `datasets/seattle_weather.csv`.
pub const SEATTLE_WEATHER_CSV: &str = include_str!("../../../datasets/seattle_weather.csv");
/// Monthly closing prices of five stocks, as shipped in `datasets/stocks.csv`.
pub const STOCKS_CSV: &str = include_str!("../../../datasets/stocks.csv");

/// One point of a series: a day (`YYYY-MM-DD`) and a value.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The date.
    pub date: String,
    /// The value.
    pub value: f64,
}

/// Daily precipitation at Seattle in millimetres, 2012-01-01 to 2015-12-31.
pub fn seattle_precipitation() -> Result<Vec<Point>> {
    column(SEATTLE_WEATHER_CSV, "seattle_weather.csv", |fields| {
        Some((fields.first()?.to_string(), fields.get(1)?.to_string()))
    })
}

/// Seattle's rainfall over the months `months` (1-12) of `year`, in tenths of a millimetre:
/// each day's figure rounded to 0.1 mm and summed exactly. The crop-insurance index
/// (May-September is `5..=9`), as the oracle nodes report it with one decimal.
pub fn season_rainfall(year: u32, months: std::ops::RangeInclusive<u32>) -> Result<u128> {
    let prefix = format!("{year}-");
    Ok(seattle_precipitation()?
        .iter()
        .filter(|d| d.date.starts_with(&prefix))
        .filter(|d| {
            d.date.get(5..7).and_then(|m| m.parse().ok()).is_some_and(|m| months.contains(&m))
        })
        .map(|d| (d.value * 10.0).round() as u128)
        .sum())
}

/// The stocks of `datasets/stocks.csv`.
pub const STOCKS: [&str; 5] = ["AAPL", "AMZN", "GOOG", "IBM", "MSFT"];

/// The name of the rainfall series in [`named`].
pub const SEATTLE_RAIN: &str = "seattle-rain";

/// A shipped series by name: a stock of [`STOCKS`] or [`SEATTLE_RAIN`].
pub fn named(name: &str) -> Result<Vec<Point>> {
    if name == SEATTLE_RAIN {
        seattle_precipitation()
    } else {
        stock(name)
    }
}

/// Monthly closing prices of `symbol` (MSFT, AMZN, IBM, GOOG or AAPL) in USD.
pub fn stock(symbol: &str) -> Result<Vec<Point>> {
    let points = column(STOCKS_CSV, "stocks.csv", |fields| {
        if fields.first()? != &symbol {
            return None;
        }
        Some((fields.get(1)?.to_string(), fields.get(2)?.to_string()))
    })?;
    if points.is_empty() {
        return Err(Error::Invalid {
            what: "symbol",
            detail: format!("{symbol:?} is not in stocks.csv (MSFT, AMZN, IBM, GOOG, AAPL)"),
        });
    }
    Ok(points)
}

fn column(
    csv: &str,
    name: &'static str,
    pick: impl Fn(&[&str]) -> Option<(String, String)>,
) -> Result<Vec<Point>> {
    let mut out = Vec::new();
    for (i, line) in csv.lines().enumerate().skip(1) {
        let fields: Vec<&str> = line.split(',').collect();
        let Some((date, value)) = pick(&fields) else { continue };
        let value: f64 = value.parse().map_err(|e| Error::Malformed {
            what: name,
            detail: format!("line {}: {value:?}: {e}", i + 1),
        })?;
        out.push(Point { date, value });
    }
    Ok(out)
}

/// A way a source lies.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Attack {
    /// These sources multiply every quote by `factor` (×10 manipulation; k of them
    /// colluding when several are listed).
    Manipulate {
        /// Attacking sources.
        sources: Vec<usize>,
        /// Multiplier.
        factor: f64,
    },
    /// One source quotes `factor` × the value in one round only.
    Spike {
        /// The source.
        source: usize,
        /// The round.
        round: usize,
        /// Multiplier.
        factor: f64,
    },
    /// One source repeats its quote of `from_round` from then on (a frozen, stale feed).
    Frozen {
        /// The source.
        source: usize,
        /// First frozen round.
        from_round: usize,
    },
    /// One source drifts away by `per_round` (relative) more each round.
    Drift {
        /// The source.
        source: usize,
        /// Relative drift added per round (0.01 = 1%).
        per_round: f64,
    },
}

/// How sources quote a true series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuoteModel {
    /// Number of sources.
    pub sources: usize,
    /// Relative standard deviation of honest noise (0.002 = 0.2%).
    pub noise: f64,
    /// Probability that a source is late: it quotes the value a tenth of the way back
    /// towards the previous point.
    pub late: f64,
    /// Probability that a source does not answer in a round (outage).
    pub outage: f64,
    /// Seed of everything random.
    pub seed: u64,
    /// The attacks.
    pub attacks: Vec<Attack>,
}

impl QuoteModel {
    /// Ten honest sources: 0.2% noise, 10% late, 2% outages.
    pub fn honest(sources: usize, seed: u64) -> Self {
        Self { sources, noise: 0.002, late: 0.1, outage: 0.02, seed, attacks: Vec::new() }
    }

    /// The quotes of every source in every round: `quotes[round][source]`, `None` when the
    /// source did not answer.
    pub fn quotes(&self, truth: &[f64]) -> Result<Vec<Vec<Option<f64>>>> {
        if self.sources == 0 || self.sources > 1000 {
            return Err(Error::Invalid {
                what: "sources",
                detail: format!("{} (1 to 1000)", self.sources),
            });
        }
        for (what, p) in [("late", self.late), ("outage", self.outage)] {
            if !(0.0..=1.0).contains(&p) {
                return Err(Error::Invalid { what, detail: format!("{p} is not a probability") });
            }
        }
        if !(0.0..1.0).contains(&self.noise) {
            return Err(Error::Invalid {
                what: "noise",
                detail: format!("{} (0 to 1)", self.noise),
            });
        }
        let mut rng = ChaCha20Rng::seed_from_u64(self.seed);
        let mut out = Vec::with_capacity(truth.len());
        let mut frozen: Vec<Option<f64>> = vec![None; self.sources];
        for (round, &value) in truth.iter().enumerate() {
            let mut row = Vec::with_capacity(self.sources);
            for (source, frozen_at) in frozen.iter_mut().enumerate() {
                // Draw every random number whether or not it is used, so one source's
                // settings never shift another's stream.
                let (late, missing, z) = (
                    rng.gen::<f64>() < self.late,
                    rng.gen::<f64>() < self.outage,
                    gaussian(&mut rng),
                );
                // A late source quotes the value of a moment earlier: a tenth of the way
                // back to the previous point (the series' points are days or months apart;
                // a quote is seconds late, not a whole step).
                let seen = if late && round > 0 {
                    value - 0.1 * (value - truth[round - 1])
                } else {
                    value
                };
                let mut q = seen * (1.0 + self.noise * z);
                for a in &self.attacks {
                    q = a.apply(source, round, q);
                }
                let frozen_from = self.attacks.iter().find_map(|a| match a {
                    Attack::Frozen { source: s, from_round } if *s == source => Some(*from_round),
                    _ => None,
                });
                if frozen_from.is_some_and(|from| round >= from) {
                    q = *frozen_at.get_or_insert(q);
                }
                row.push((!missing).then_some(q));
            }
            out.push(row);
        }
        Ok(out)
    }
}

/// One round of [`QuoteModel::quotes`] as named quotes (`source-<i>`), leaving out the
/// sources that did not answer.
pub fn named_quotes(row: &[Option<f64>]) -> Vec<crate::detect::Quote> {
    row.iter().enumerate().filter_map(|(i, v)| v.map(|v| (format!("source-{i}"), v))).collect()
}

impl Attack {
    fn apply(&self, source: usize, round: usize, q: f64) -> f64 {
        match self {
            Attack::Manipulate { sources, factor } if sources.contains(&source) => q * factor,
            Attack::Spike { source: s, round: r, factor } if *s == source && *r == round => {
                q * factor
            }
            Attack::Drift { source: s, per_round } if *s == source => {
                q * (1.0 + per_round * round as f64)
            }
            _ => q,
        }
    }

    /// Whether `source` lies in `round` under this attack (the label the learned detector
    /// is trained on).
    pub fn lies(&self, source: usize, round: usize) -> bool {
        match self {
            Attack::Manipulate { sources, .. } => sources.contains(&source),
            Attack::Spike { source: s, round: r, .. } => *s == source && *r == round,
            Attack::Frozen { source: s, from_round } => *s == source && round > *from_round,
            Attack::Drift { source: s, per_round } => {
                *s == source && per_round.abs() * round as f64 > 0.01
            }
        }
    }
}

/// A standard normal draw (Box–Muller).
fn gaussian(rng: &mut ChaCha20Rng) -> f64 {
    let u1: f64 = rng.gen::<f64>().max(f64::MIN_POSITIVE);
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_series_are_the_real_ones() {
        let rain = seattle_precipitation().unwrap();
        assert_eq!(rain.len(), 1461, "2012-01-01 .. 2015-12-31");
        assert_eq!(rain[1], Point { date: "2012-01-02".into(), value: 10.9 });
        let total_2012: f64 =
            rain.iter().filter(|p| p.date.starts_with("2012")).map(|p| p.value).sum();
        // Seattle had a wet 2012: about 1,200 mm (NOAA); the file says so to the 0.1 mm.
        assert!((total_2012 - 1226.0).abs() < 1.0, "{total_2012}");
        let aapl = stock("AAPL").unwrap();
        assert_eq!(aapl.len(), 123);
        assert!(stock("TSLA").is_err());
    }

    #[test]
    fn quotes_are_reproducible_and_attacks_do_what_they_say() {
        let truth: Vec<f64> = (0..50).map(|i| 100.0 + i as f64).collect();
        let mut m = QuoteModel::honest(10, 7);
        assert_eq!(m.quotes(&truth).unwrap(), m.quotes(&truth).unwrap());
        m.attacks = vec![
            Attack::Manipulate { sources: vec![0], factor: 10.0 },
            Attack::Frozen { source: 1, from_round: 10 },
            Attack::Spike { source: 2, round: 20, factor: 3.0 },
        ];
        m.outage = 0.0;
        m.late = 0.0;
        let q = m.quotes(&truth).unwrap();
        assert!(q[5][0].unwrap() > 900.0);
        assert_eq!(q[10][1], q[40][1], "frozen");
        assert!(q[20][2].unwrap() > 300.0 && q[21][2].unwrap() < 200.0, "one round only");
        let honest = q[30][5].unwrap();
        assert!((honest / truth[30] - 1.0).abs() < 0.02, "{honest}");
        assert!(QuoteModel { outage: 2.0, ..m.clone() }.quotes(&truth).is_err());
    }
}
