//! `/api/v1/insurance`: parametric crop insurance quoted off-chain — each growing season's
//! rainfall index from the shipped Seattle series and what a cover pays at it, by
//! `CropInsurance`'s own integer rule (`alara_oracle::crop`), so the figures are the ones
//! the pool credits when `alara demo insurance` settles the same cover.

use std::sync::Arc;

use alara_oracle::crop::{self, Cover, DEMO_COVERS};
use axum::extract::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// The highest trigger accepted: 20,000.0 mm over a season, more than the wettest place on
/// Earth gets in a year. A level beyond it is a typo, not a cover.
const MAX_LEVEL: u64 = 200_000;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(seasons))
}

/// The cover to quote. Levels are rainfall indices in tenths of a millimetre, the sum in
/// wei, as `CropInsurance.offer` takes them. Defaults: the standard cover of `alara demo
/// insurance` (trigger 2500, exit 1400, 1 ETH) over May–September.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SeasonsQuery {
    /// Below this index the cover starts to pay (1 to 200000). Default 2500 (250.0 mm).
    pub trigger: Option<u64>,
    /// At or below this index it pays the sum insured; below the trigger. Default 1400.
    pub exit: Option<u64>,
    /// The sum insured in wei, decimal (1 to 2^128 - 1, the contract's `uint128`).
    /// Default 1000000000000000000 (1 ETH).
    pub sum_insured: Option<String>,
    /// The months of the season, `START-END` or one month (1-12, START ≤ END). Default `5-9`.
    pub months: Option<String>,
}

/// One season and what the cover pays.
#[derive(Serialize, ToSchema)]
pub struct SeasonQuote {
    /// The year.
    pub year: u32,
    /// The rainfall index: the season's rainfall in tenths of a millimetre.
    pub index: u64,
    /// The payout in wei, decimal (rounded down as the contract rounds it).
    pub payout: String,
    /// The share of the sum insured before rounding, 0 to 1.
    pub fraction: f64,
    /// `nothing` (index ≥ trigger), `partial` or `full` (index ≤ exit).
    pub band: String,
    /// Why, in words.
    pub reason: String,
}

/// Every season of the shipped series against one cover.
#[derive(Serialize, ToSchema)]
pub struct SeasonsAnswer {
    /// The trigger used, tenths of a millimetre.
    pub trigger: u64,
    /// The exit used, tenths of a millimetre.
    pub exit: u64,
    /// The sum insured used, wei, decimal.
    pub sum_insured: String,
    /// First and last month of the season.
    pub months: [u32; 2],
    /// The seasons, oldest first.
    pub seasons: Vec<SeasonQuote>,
}

/// `START-END` or `M` to a range of months, checked to lie within one year.
fn parse_months(s: &str) -> ApiResult<std::ops::RangeInclusive<u32>> {
    let bad = || {
        ApiError::bad_request(format!("months={s:?}"))
            .hint("months=START-END or one month, 1 (January) to 12 (December), e.g. months=5-9")
    };
    let (start, end) = s.split_once('-').unwrap_or((s, s));
    let start: u32 = start.trim().parse().map_err(|_| bad())?;
    let end: u32 = end.trim().parse().map_err(|_| bad())?;
    let months = start..=end;
    crop::check_months(&months).map_err(|e| {
        ApiError::bad_request(format!("months={s}: {e}"))
            .hint("months=START-END with 1 ≤ START ≤ END ≤ 12, e.g. months=5-9")
    })?;
    Ok(months)
}

/// Each growing season's rainfall index and what a cover pays, by `CropInsurance`'s rule.
#[utoipa::path(get, path = "/insurance/seasons", tag = "insurance", params(SeasonsQuery),
    responses((status = 200, body = SeasonsAnswer), (status = 400, body = crate::error::ErrorBody)))]
async fn seasons(
    p: Principal,
    q: Result<Query<SeasonsQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<SeasonsAnswer>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let default = DEMO_COVERS[0].1;
    let trigger = q.trigger.unwrap_or(default.trigger as u64);
    let exit = q.exit.unwrap_or(default.exit as u64);
    if trigger == 0 || trigger > MAX_LEVEL {
        return Err(ApiError::bad_request(format!("trigger={trigger}"))
            .hint("a trigger of 1 to 200000 tenths of a millimetre (2500 = 250.0 mm)"));
    }
    if exit >= trigger {
        return Err(ApiError::bad_request(format!("exit={exit} is not below trigger={trigger}"))
            .hint("the exit (full payout) must be a lower rainfall index than the trigger"));
    }
    let sum_insured = match q.sum_insured.as_deref() {
        None => default.sum_insured,
        Some(s) => match s.trim().parse::<u128>() {
            Ok(0) => {
                return Err(ApiError::bad_request("sum_insured=0")
                    .hint("a cover insures at least 1 wei (1 ETH = 1000000000000000000)"))
            }
            Ok(v) => v,
            Err(e) => {
                return Err(ApiError::bad_request(format!("sum_insured={s:?}: {e}")).hint(
                    "a whole number of wei, 1 to 340282366920938463463374607431768211455 \
                     (the contract's uint128)",
                ))
            }
        },
    };
    let months = parse_months(q.months.as_deref().unwrap_or("5-9"))?;
    let cover = Cover::new(u128::from(trigger), u128::from(exit), sum_insured)
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    let bounds = [*months.start(), *months.end()];
    let seasons = blocking(move || {
        let seasons = crop::seasons(&cover, months).map_err(ApiError::internal)?;
        seasons
            .into_iter()
            .map(|s| {
                let t = s.settlement;
                Ok(SeasonQuote {
                    year: s.year,
                    index: u64::try_from(t.index).map_err(ApiError::internal)?,
                    payout: t.payout.to_string(),
                    fraction: t.fraction,
                    band: match t.band {
                        crop::Band::Nothing => "nothing",
                        crop::Band::Partial => "partial",
                        crop::Band::Full => "full",
                    }
                    .into(),
                    reason: t.reason,
                })
            })
            .collect::<ApiResult<Vec<_>>>()
    })
    .await?;
    Ok(Json(SeasonsAnswer {
        trigger,
        exit,
        sum_insured: sum_insured.to_string(),
        months: bounds,
        seasons,
    }))
}
