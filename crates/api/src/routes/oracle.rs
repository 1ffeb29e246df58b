//! `/api/v1/oracle`: the AI oracle's feeds over the shipped real series — what many
//! simulated sources quote (seeded noise, latency, outages, and the attack asked for),
//! which the detectors dropped and why, the consensus beside the plain median and the
//! real value. The same computation as `alara oracle feed`.

use std::sync::Arc;

use alara_oracle::detect::DetectorConfig;
use alara_oracle::feed::{ErrorSummary, RoundResult};
use alara_oracle::series::{self, Attack, QuoteModel};
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::auth::{Principal, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::{blocking, ApiState};
use crate::Json;

/// Most sources a simulation may have.
const MAX_SOURCES: usize = 100;
/// Most rounds one answer lists.
const MAX_LISTED: usize = 2000;

/// The routes.
pub fn router() -> OpenApiRouter<Arc<ApiState>> {
    OpenApiRouter::new().routes(routes!(series_list)).routes(routes!(simulate))
}

/// A series a feed can observe.
#[derive(Serialize, ToSchema)]
pub struct SeriesInfo {
    /// Its name in `?series=`.
    pub name: String,
    /// What it is.
    pub description: String,
    /// Points (rounds).
    pub points: usize,
}

/// The shipped real series.
#[utoipa::path(get, path = "/oracle/series", tag = "oracle", responses((status = 200, body = Vec<SeriesInfo>)))]
async fn series_list(p: Principal) -> ApiResult<Json<Vec<SeriesInfo>>> {
    p.require(Role::Reader)?;
    let mut out = Vec::new();
    for s in series::STOCKS {
        let points = series::stock(s).map_err(ApiError::internal)?.len();
        out.push(SeriesInfo {
            name: s.into(),
            description: format!("{s} monthly closing price, USD (datasets/stocks.csv)"),
            points,
        });
    }
    let rain = series::seattle_precipitation().map_err(ApiError::internal)?.len();
    out.push(SeriesInfo {
        name: series::SEATTLE_RAIN.into(),
        description: "Seattle daily precipitation 2012-2015, mm (datasets/seattle_weather.csv)"
            .into(),
        points: rain,
    });
    Ok(Json(out))
}

/// What to simulate.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SimulateQuery {
    /// A stock (AAPL, AMZN, GOOG, IBM, MSFT) or `seattle-rain`. Default AAPL.
    pub series: Option<String>,
    /// Sources quoting it (1-100). Default 10.
    pub sources: Option<usize>,
    /// Seed of noise, latency and outages. Default 42.
    pub seed: Option<u64>,
    /// The first K sources collude and quote `factor` × the value. Default 0.
    pub manipulate: Option<usize>,
    /// Multiplier of `manipulate` (0 < factor ≤ 1000). Default 10.
    pub factor: Option<f64>,
    /// Rounds listed, the last ones (at most 2000). Default 50.
    pub last: Option<usize>,
}

/// A feed's run.
#[derive(Serialize, ToSchema)]
pub struct Simulation {
    /// Feed name.
    pub feed: String,
    /// Dates of the listed rounds (the series' own).
    pub dates: Vec<String>,
    /// Error against the real series over every round.
    #[schema(value_type = Object)]
    pub summary: ErrorSummary,
    /// The last rounds: the real value, the plain median, the decision.
    #[schema(value_type = Vec<Object>)]
    pub rounds: Vec<RoundResult>,
}

/// Runs a feed over a shipped series with simulated sources and an attack.
#[utoipa::path(get, path = "/oracle/simulate", tag = "oracle", params(SimulateQuery),
    responses((status = 200, body = Simulation), (status = 400, body = crate::error::ErrorBody)))]
async fn simulate(
    p: Principal,
    State(_s): State<Arc<ApiState>>,
    q: Result<Query<SimulateQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Json<Simulation>> {
    p.require(Role::Reader)?;
    let Query(q) = q?;
    let name = q.series.unwrap_or_else(|| "AAPL".into());
    let sources = q.sources.unwrap_or(10);
    let manipulate = q.manipulate.unwrap_or(0);
    let factor = q.factor.unwrap_or(10.0);
    let last = q.last.unwrap_or(50).min(MAX_LISTED);
    if sources == 0 || sources > MAX_SOURCES {
        return Err(ApiError::bad_request(format!("sources={sources}")).hint("1 to 100 sources"));
    }
    if manipulate > sources {
        return Err(ApiError::bad_request(format!("manipulate={manipulate} > sources={sources}"))
            .hint("at most as many manipulators as sources"));
    }
    if !(factor.is_finite() && factor > 0.0 && factor <= 1000.0) {
        return Err(ApiError::bad_request(format!("factor={factor}")).hint("0 < factor ≤ 1000"));
    }
    let seed = q.seed.unwrap_or(42);
    let sim = blocking(move || {
        let points = series::named(&name).map_err(|e| {
            ApiError::bad_request(e.to_string()).hint("GET /api/v1/oracle/series lists the series")
        })?;
        let truth: Vec<f64> = points.iter().map(|p| p.value).collect();
        let mut model = QuoteModel::honest(sources, seed);
        if manipulate > 0 {
            model.attacks.push(Attack::Manipulate { sources: (0..manipulate).collect(), factor });
        }
        let feed = format!("{name}/simulated-{sources}");
        let (rounds, summary) =
            alara_oracle::feed::run(&feed, &truth, &model, DetectorConfig::default(), 3)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        let rounds: Vec<RoundResult> = rounds[rounds.len().saturating_sub(last)..].to_vec();
        let dates = rounds
            .iter()
            .map(|r| {
                usize::try_from(r.decision.round)
                    .ok()
                    .and_then(|i| points.get(i))
                    .map_or(String::new(), |p| p.date.clone())
            })
            .collect();
        Ok(Simulation { feed, dates, summary, rounds })
    })
    .await?;
    Ok(Json(sim))
}
