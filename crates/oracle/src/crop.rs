//! Parametric crop insurance off-chain: each growing season's rainfall index from the
//! shipped Seattle series and what a cover pays at it, with exactly `CropInsurance`'s
//! integer arithmetic, so a payout shown before settlement is the one the pool will credit.
//!
//! The rule is Etherisc's area-yield index (AYII) as `CropInsurance._payout` computes it:
//! an index at or above the trigger pays nothing, at or below the exit the sum insured, and
//! in between `sum_insured * (trigger - index) / (trigger - exit)`, in 256-bit integers,
//! rounded down. Levels and the index are in tenths of a millimetre (the feed's one
//! decimal), the sum insured in wei, as the contract takes them.
//!
//! ```
//! use alara_oracle::crop::{Cover, GROWING_SEASON};
//!
//! let cover = Cover::new(2500, 1400, 1_000)?;
//! assert_eq!(cover.payout(2600), 0);
//! assert_eq!(cover.payout(1950), 500);
//! assert_eq!(cover.payout(1274), 1_000);
//! let seasons = alara_oracle::crop::seasons(&cover, GROWING_SEASON)?;
//! assert_eq!(seasons.len(), 4); // 2012-2015
//! # Ok::<(), alara_oracle::Error>(())
//! ```

use std::ops::RangeInclusive;

use alloy::primitives::U256;
use serde::Serialize;

use crate::series::{season_rainfall, seattle_precipitation};
use crate::{Error, Result};

/// The growing season of the index: May to September.
pub const GROWING_SEASON: RangeInclusive<u32> = 5..=9;

/// One ether in wei, the sum insured of the demo's covers.
const ETHER: u128 = 1_000_000_000_000_000_000;

/// The covers `alara demo insurance` sells, by name: a standard one (trigger 250.0 mm, exit
/// 140.0 mm) and a wider one (trigger 300.0 mm, exit 200.0 mm), each insuring 1 ETH.
pub const DEMO_COVERS: [(&str, Cover); 2] = [
    ("standard", Cover { trigger: 2500, exit: 1400, sum_insured: ETHER }),
    ("wide", Cover { trigger: 3000, exit: 2000, sum_insured: ETHER }),
];

/// A cover's levels and sum, in the contract's units: the trigger and exit of the rainfall
/// index in tenths of a millimetre (`exit < trigger`), the sum insured in wei (`> 0`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Cover {
    /// Below this index the cover starts to pay.
    pub trigger: u128,
    /// At or below this index the cover pays the sum insured.
    pub exit: u128,
    /// The most the cover pays, in wei.
    pub sum_insured: u128,
}

/// Where an index falls against a cover's levels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Band {
    /// At or above the trigger: no drought, nothing paid.
    Nothing,
    /// Between the exit and the trigger: a linear share of the sum insured.
    Partial,
    /// At or below the exit: the sum insured in full.
    Full,
}

/// What a cover pays at one index, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Settlement {
    /// The rainfall index, tenths of a millimetre.
    pub index: u128,
    /// The payout in wei, rounded down as the contract rounds it.
    pub payout: u128,
    /// The share of the sum insured before rounding: `(trigger - index) / (trigger - exit)`
    /// clamped to `0..=1`.
    pub fraction: f64,
    /// Where the index falls.
    pub band: Band,
    /// Why, in words: "index 1274 ≤ exit 1400: full sum insured".
    pub reason: String,
}

/// One growing season of the shipped series, settled against a cover.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Season {
    /// The year.
    pub year: u32,
    /// The index and what the cover pays at it.
    #[serde(flatten)]
    pub settlement: Settlement,
}

impl Cover {
    /// A cover the contract would offer: refuses `exit >= trigger` (`InvalidLevels`) and a
    /// zero sum insured (`ZeroAmount`), as `CropInsurance.offer` does.
    pub fn new(trigger: u128, exit: u128, sum_insured: u128) -> Result<Cover> {
        if exit >= trigger {
            return Err(Error::Invalid {
                what: "cover levels",
                detail: format!(
                    "exit {exit} is not below trigger {trigger}; the exit (full payout) must \
                     be a lower rainfall index than the trigger (first payout)"
                ),
            });
        }
        if sum_insured == 0 {
            return Err(Error::Invalid {
                what: "sum insured",
                detail: "0 wei; a cover insures at least 1 wei".into(),
            });
        }
        Ok(Cover { trigger, exit, sum_insured })
    }

    /// Where `index` falls against the levels.
    pub fn band(&self, index: u128) -> Band {
        if index >= self.trigger {
            Band::Nothing
        } else if index <= self.exit {
            Band::Full
        } else {
            Band::Partial
        }
    }

    /// The payout at `index`, as `CropInsurance._payout`: 256-bit product, rounded down.
    pub fn payout(&self, index: u128) -> u128 {
        match self.band(index) {
            Band::Nothing => 0,
            Band::Full => self.sum_insured,
            Band::Partial => {
                let p = U256::from(self.sum_insured) * U256::from(self.trigger - index)
                    / U256::from(self.trigger - self.exit);
                // Below the sum insured, since trigger - index < trigger - exit.
                p.to::<u128>()
            }
        }
    }

    /// The share of the sum insured at `index` before rounding, in `0..=1`.
    pub fn fraction(&self, index: u128) -> f64 {
        match self.band(index) {
            Band::Nothing => 0.0,
            Band::Full => 1.0,
            Band::Partial => (self.trigger - index) as f64 / (self.trigger - self.exit) as f64,
        }
    }

    /// The payout at `index`, its share and the reason in words.
    pub fn settle(&self, index: u128) -> Settlement {
        let band = self.band(index);
        let fraction = self.fraction(index);
        let (trigger, exit) = (self.trigger, self.exit);
        let reason = match band {
            Band::Nothing => format!("index {index} ≥ trigger {trigger}: nothing"),
            Band::Full => format!("index {index} ≤ exit {exit}: full sum insured"),
            Band::Partial => format!(
                "index {index} between trigger {trigger} and exit {exit}: {:.1}%",
                fraction * 100.0
            ),
        };
        Settlement { index, payout: self.payout(index), fraction, band, reason }
    }
}

/// Checks that `months` is a span of one year's months: `1 <= start <= end <= 12`.
pub fn check_months(months: &RangeInclusive<u32>) -> Result<()> {
    let (start, end) = (*months.start(), *months.end());
    if !(1..=12).contains(&start) || !(1..=12).contains(&end) || start > end {
        return Err(Error::Invalid {
            what: "months",
            detail: format!(
                "{start}-{end}; months are 1 (January) to 12 (December), the first not after \
                 the last (a season does not cross the new year)"
            ),
        });
    }
    Ok(())
}

/// The years of the shipped Seattle series (2012-2015), in order.
pub fn years() -> Result<Vec<u32>> {
    let mut years: Vec<u32> = seattle_precipitation()?
        .iter()
        .filter_map(|p| p.date.get(..4).and_then(|y| y.parse().ok()))
        .collect();
    years.dedup();
    Ok(years)
}

/// Every season of the shipped Seattle series: its rainfall over `months` (the index of
/// [`season_rainfall`], as the oracle nodes report it) and what `cover` pays at it.
pub fn seasons(cover: &Cover, months: RangeInclusive<u32>) -> Result<Vec<Season>> {
    check_months(&months)?;
    years()?
        .into_iter()
        .map(|year| {
            let index = season_rainfall(year, months.clone())?;
            Ok(Season { year, settlement: cover.settle(index) })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn standard() -> Cover {
        DEMO_COVERS[0].1
    }

    #[test]
    fn boundaries_pay_as_the_contract() {
        let c = Cover::new(2500, 1400, 1_000_000).unwrap();
        assert_eq!(c.payout(u128::MAX), 0);
        assert_eq!(c.payout(2501), 0);
        assert_eq!(c.payout(2500), 0, "at the trigger: nothing");
        assert_eq!(c.payout(2499), 909, "1e6 * 1 / 1100, rounded down");
        assert_eq!(c.payout(1401), 999_090, "1e6 * 1099 / 1100 = 999090.9, rounded down");
        assert_eq!(c.payout(1400), 1_000_000, "at the exit: in full");
        assert_eq!(c.payout(1399), 1_000_000);
        assert_eq!(c.payout(0), 1_000_000);
        assert_eq!(c.payout(1950), 500_000);
    }

    #[test]
    fn reasons_name_the_band() {
        let c = Cover::new(2000, 1200, 800).unwrap();
        assert_eq!(c.settle(1300).reason, "index 1300 between trigger 2000 and exit 1200: 87.5%");
        assert_eq!(c.settle(1700).reason, "index 1700 between trigger 2000 and exit 1200: 37.5%");
        assert_eq!(c.settle(1700).payout, 300);
        assert_eq!(c.settle(1200).reason, "index 1200 ≤ exit 1200: full sum insured");
        assert_eq!(c.settle(2000).reason, "index 2000 ≥ trigger 2000: nothing");
        assert_eq!(c.settle(1700).band, Band::Partial);
    }

    #[test]
    fn levels_the_contract_refuses_are_refused() {
        assert!(Cover::new(1400, 1400, 1).is_err(), "exit = trigger (InvalidLevels)");
        assert!(Cover::new(1400, 2500, 1).is_err(), "exit > trigger (InvalidLevels)");
        assert!(Cover::new(2500, 1400, 0).is_err(), "ZeroAmount");
        assert!(Cover::new(1, 0, 1).is_ok());
    }

    #[test]
    fn months_outside_one_year_are_refused() {
        // A season ending before it starts (9-5) would wrap the year.
        for bad in [0..=9, 5..=13, RangeInclusive::new(9, 5), 13..=13] {
            assert!(check_months(&bad).is_err(), "{bad:?}");
        }
        for good in [1..=12, 5..=9, 7..=7] {
            assert!(check_months(&good).is_ok(), "{good:?}");
        }
        assert!(seasons(&standard(), RangeInclusive::new(10, 3)).is_err());
    }

    /// What `alara demo insurance` pays, the settlement of the real seasons checked on the
    /// embedded chain and anvil (`tests/it/crop.rs`): 2013 (284.8 mm) pays nothing, 2015
    /// (127.4 mm) the sum insured, 2012 and 2014 part, for the standard cover.
    #[test]
    fn demo_covers_pay_what_the_demo_pays() {
        let seasons = seasons(&standard(), GROWING_SEASON).unwrap();
        let got: Vec<(u32, u128, u128)> =
            seasons.iter().map(|s| (s.year, s.settlement.index, s.settlement.payout)).collect();
        // 1e18 * (2500 - 1545) / 1100 and 1e18 * (2500 - 2211) / 1100, rounded down.
        assert_eq!(
            got,
            vec![
                (2012, 1545, 868_181_818_181_818_181),
                (2013, 2848, 0),
                (2014, 2211, 262_727_272_727_272_727),
                (2015, 1274, ETHER),
            ]
        );
        let wide = seasons_of(DEMO_COVERS[1].1);
        assert_eq!(
            wide,
            vec![
                (2012, ETHER),
                (2013, 152_000_000_000_000_000),
                (2014, 789_000_000_000_000_000),
                (2015, ETHER)
            ]
        );
        for (year, want) in [(2012, 1545), (2013, 2848), (2014, 2211), (2015, 1274)] {
            assert_eq!(season_rainfall(year, 5..=9).unwrap(), want, "{year}");
        }
    }

    fn seasons_of(cover: Cover) -> Vec<(u32, u128)> {
        seasons(&cover, GROWING_SEASON)
            .unwrap()
            .iter()
            .map(|s| (s.year, s.settlement.payout))
            .collect()
    }

    fn cover() -> impl Strategy<Value = Cover> {
        (1u128..=u128::MAX / 2, any::<u128>(), 1u128..=u128::MAX).prop_map(|(width, exit, sum)| {
            let exit = exit % (u128::MAX - width);
            Cover { trigger: exit + width, exit, sum_insured: sum }
        })
    }

    proptest! {
        #[test]
        fn payout_never_rises_with_the_index(c in cover(), a in any::<u128>(), b in any::<u128>()) {
            let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
            prop_assert!(c.payout(lo) >= c.payout(hi));
        }

        #[test]
        fn payout_stays_within_its_bounds(c in cover(), index in any::<u128>()) {
            let p = c.payout(index);
            prop_assert!(p <= c.sum_insured);
            if index >= c.trigger { prop_assert_eq!(p, 0); }
            if index <= c.exit { prop_assert_eq!(p, c.sum_insured); }
            if index > c.exit && index < c.trigger { prop_assert!(p < c.sum_insured); }
        }

        #[test]
        fn payout_near_the_levels(c in cover(), d in 0u128..1000) {
            prop_assert_eq!(c.payout(c.trigger.saturating_add(d)), 0);
            prop_assert_eq!(c.payout(c.exit.saturating_sub(d)), c.sum_insured);
            let inside = c.exit + 1 + d % (c.trigger - c.exit);
            if inside < c.trigger {
                let want = U256::from(c.sum_insured) * U256::from(c.trigger - inside)
                    / U256::from(c.trigger - c.exit);
                prop_assert_eq!(U256::from(c.payout(inside)), want);
            }
        }
    }
}
