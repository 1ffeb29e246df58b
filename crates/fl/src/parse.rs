//! Text forms of strategies, partitions, behaviours and models, for command lines:
//! `fedavg`, `fedprox:0.01`, `fedadam`, `krum:2`, `multikrum:2`, `median:2`,
//! `trimmed:2`; `iid`, `dirichlet:0.5`, `shards:2`, `unbalanced:1.0`; `sign-flip:4`,
//! `replace:10`, `label-flip`, `zero`, `copy`, `random`; `logistic`, `mlp:32`.

use std::str::FromStr;

use crate::{model::ModelKind, partition::Partition, sim::Behavior, Error, Strategy};

fn split(s: &str) -> (&str, Option<&str>) {
    match s.split_once(':') {
        Some((a, b)) => (a, Some(b)),
        None => (s, None),
    }
}

fn num<T: FromStr>(what: &str, v: Option<&str>, default: Option<T>) -> Result<T, Error> {
    match v {
        Some(v) => {
            v.parse().map_err(|_| Error::Config(format!("{what}: `{v}` is not a valid number")))
        }
        None => default
            .ok_or_else(|| Error::Config(format!("{what} needs a parameter, e.g. `{what}:2`"))),
    }
}

impl FromStr for Strategy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (name, arg) = split(s);
        let st = match name.to_ascii_lowercase().as_str() {
            "fedavg" => Strategy::FedAvg,
            "fedprox" => Strategy::FedProx { mu: num("fedprox", arg, Some(0.01))? },
            "fedadam" => match arg {
                Some(lr) => Strategy::FedAdam { lr: num("fedadam", Some(lr), None)?, beta1: 0.9, beta2: 0.99, tau: 1e-3 },
                None => Strategy::fed_adam(),
            },
            "krum" => Strategy::Krum { f: num("krum", arg, None)? },
            "multikrum" | "multi-krum" => Strategy::MultiKrum { f: num("multikrum", arg, None)?, m: None },
            "median" => Strategy::Median { f: num("median", arg, Some(0))? },
            "trimmed" | "trimmed-mean" | "trimmedmean" => Strategy::TrimmedMean { f: num("trimmed", arg, None)? },
            other => {
                return Err(Error::Config(format!(
                    "unknown strategy `{other}`; use fedavg, fedprox:MU, fedadam[:LR], krum:F, multikrum:F, median[:F], trimmed:F"
                )))
            }
        };
        st.validate()?;
        Ok(st)
    }
}

impl FromStr for Partition {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (name, arg) = split(s);
        Ok(match name.to_ascii_lowercase().as_str() {
            "iid" => Partition::Iid,
            "dirichlet" => Partition::Dirichlet { alpha: num("dirichlet", arg, Some(0.5))? },
            "shards" => Partition::Shards { shards_per_client: num("shards", arg, Some(2))? },
            "unbalanced" => Partition::Unbalanced { sigma: num("unbalanced", arg, Some(1.0))? },
            other => {
                return Err(Error::Config(format!(
                "unknown partition `{other}`; use iid, dirichlet:ALPHA, shards:K, unbalanced:SIGMA"
            )))
            }
        })
    }
}

impl FromStr for Behavior {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (name, arg) = split(s);
        Ok(match name.to_ascii_lowercase().as_str() {
            "honest" => Behavior::Honest,
            "sign-flip" | "signflip" => Behavior::SignFlip { scale: num("sign-flip", arg, Some(4.0))? },
            "replace" | "scaled-replacement" => Behavior::ScaledReplacement { boost: num("replace", arg, Some(10.0))? },
            "label-flip" | "labelflip" => Behavior::LabelFlip,
            "zero" => Behavior::FreeRiderZero,
            "copy" => Behavior::FreeRiderCopy,
            "random" => Behavior::FreeRiderRandom,
            other => {
                return Err(Error::Config(format!(
                    "unknown behaviour `{other}`; use sign-flip[:S], replace[:B], label-flip, zero, copy, random"
                )))
            }
        })
    }
}

impl FromStr for ModelKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        let (name, arg) = split(s);
        Ok(match name.to_ascii_lowercase().as_str() {
            "logistic" | "logreg" => ModelKind::Logistic,
            "mlp" => ModelKind::Mlp { hidden: num("mlp", arg, Some(32))? },
            other => {
                return Err(Error::Config(format!(
                    "unknown model `{other}`; use logistic or mlp:HIDDEN"
                )))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_rejects() {
        assert_eq!("krum:2".parse::<Strategy>().unwrap(), Strategy::Krum { f: 2 });
        assert_eq!("median".parse::<Strategy>().unwrap(), Strategy::Median { f: 0 });
        assert!("krum".parse::<Strategy>().is_err());
        assert!("bogus".parse::<Strategy>().is_err());
        assert_eq!(
            "dirichlet:0.1".parse::<Partition>().unwrap(),
            Partition::Dirichlet { alpha: 0.1 }
        );
        assert!("dirichlet:x".parse::<Partition>().is_err());
        assert_eq!("mlp:8".parse::<ModelKind>().unwrap(), ModelKind::Mlp { hidden: 8 });
        assert_eq!("copy".parse::<Behavior>().unwrap(), Behavior::FreeRiderCopy);
    }
}
