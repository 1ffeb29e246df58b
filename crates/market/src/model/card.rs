//! Model cards as on the Hugging Face Hub: a `README.md` whose YAML front matter carries
//! the metadata (`license`, `pipeline_tag`, `datasets`, `base_model`, `metrics`, `tags`,
//! `library_name`) and whose Markdown body describes the model.
//!
//! The registry stores the card's SHA-256 (`cardHash`); the card itself goes to the store
//! with the model. Parsing is strict where a buyer relies on a field (a licence must be
//! named) and lenient where the Hub is (`base_model` and `datasets` may be one string or a
//! list; unknown keys are kept).
//!
//! ```
//! use alara_market::model::card::ModelCard;
//! let card = ModelCard::parse(b"---\nlicense: apache-2.0\npipeline_tag: tabular-classification\ndatasets: [breast-cancer]\n---\n# A model\n").unwrap();
//! assert_eq!(card.meta.license, "apache-2.0");
//! assert_eq!(card.meta.datasets, vec!["breast-cancer".to_string()]);
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// Largest card accepted (the Hub's cards are a few KiB).
pub const MAX_CARD_BYTES: usize = 1 << 20;

/// The metadata of a card (its YAML front matter).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CardMeta {
    /// Licence identifier (an SPDX id such as `apache-2.0` or `mit`, or `other`).
    pub license: String,
    /// The task, e.g. `tabular-classification`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pipeline_tag: Option<String>,
    /// Datasets the model was trained on (names, Hub ids, or data-market CIDs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub datasets: Vec<String>,
    /// Models this one was fine-tuned or derived from.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub base_model: Vec<String>,
    /// Metrics reported in the card, e.g. `accuracy`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<String>,
    /// Free tags.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Library the model comes from, e.g. `onnx`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub library_name: Option<String>,
    /// Every other key, as JSON.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// A parsed card: its metadata, its Markdown body and its exact bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelCard {
    /// The front matter.
    pub meta: CardMeta,
    /// The Markdown after the front matter.
    pub body: String,
    /// The card as given (what is hashed and stored).
    pub raw: Vec<u8>,
}

fn card_error(detail: impl Into<String>) -> Error {
    Error::Card(detail.into())
}

/// A YAML value that the Hub allows as one string or a list of strings.
fn strings(key: &str, v: &serde_yaml_ng::Value) -> Result<Vec<String>> {
    use serde_yaml_ng::Value;
    let one = |v: &Value| -> Result<String> {
        match v {
            Value::String(s) if !s.trim().is_empty() => Ok(s.trim().to_string()),
            Value::Number(n) => Ok(n.to_string()),
            other => Err(card_error(format!(
                "`{key}` must be a string or a list of strings, found {}",
                kind(other)
            ))),
        }
    };
    match v {
        Value::Null => Ok(vec![]),
        Value::Sequence(items) => items.iter().map(one).collect(),
        // `metrics` on the Hub is sometimes a list of mappings with a `name` (or `type`).
        other => Ok(vec![one(other)?]),
    }
}

fn metric_names(v: &serde_yaml_ng::Value) -> Result<Vec<String>> {
    use serde_yaml_ng::Value;
    match v {
        Value::Sequence(items) => items
            .iter()
            .map(|m| match m {
                Value::Mapping(map) => map
                    .get("name")
                    .or_else(|| map.get("type"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                    .ok_or_else(|| card_error("a `metrics` mapping needs a `name` or `type`")),
                other => strings("metrics", other).map(|mut v| v.remove(0)),
            })
            .collect(),
        other => strings("metrics", other),
    }
}

fn kind(v: &serde_yaml_ng::Value) -> &'static str {
    use serde_yaml_ng::Value;
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "an empty string",
        Value::Sequence(_) => "a list",
        Value::Mapping(_) => "a mapping",
        Value::Tagged(_) => "a tagged value",
    }
}

/// Splits `---\n<yaml>\n---\n<body>`; the closing fence may end the file.
fn split_front_matter(text: &str) -> Result<(&str, &str)> {
    let rest = text
        .strip_prefix("---\n")
        .or_else(|| text.strip_prefix("---\r\n"))
        .ok_or_else(|| {
            card_error(
                "a model card starts with YAML front matter between `---` lines, e.g. \
                 `---\\nlicense: apache-2.0\\n---` (see https://huggingface.co/docs/hub/model-cards)",
            )
        })?;
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        if line.trim_end() == "---" {
            return Ok((&rest[..offset], &rest[offset + line.len()..]));
        }
        offset += line.len();
    }
    Err(card_error("the front matter has no closing `---` line"))
}

impl ModelCard {
    /// Parses a card. Errors name the key that is missing or malformed.
    pub fn parse(raw: &[u8]) -> Result<ModelCard> {
        use serde_yaml_ng::Value;
        if raw.len() > MAX_CARD_BYTES {
            return Err(card_error(format!(
                "the card is {} bytes; at most {MAX_CARD_BYTES} are accepted",
                raw.len()
            )));
        }
        let text = std::str::from_utf8(raw).map_err(|e| card_error(format!("not UTF-8: {e}")))?;
        let (yaml, body) = split_front_matter(text)?;
        let value: Value = serde_yaml_ng::from_str(yaml)
            .map_err(|e| card_error(format!("the front matter is not valid YAML: {e}")))?;
        let Value::Mapping(map) = value else {
            return Err(card_error(format!(
                "the front matter must be a mapping of keys, found {}",
                kind(&value)
            )));
        };
        let mut meta = CardMeta::default();
        for (k, v) in &map {
            let Some(key) = k.as_str() else {
                return Err(card_error(format!(
                    "front matter keys are strings, found {}",
                    kind(k)
                )));
            };
            match key {
                "license" => {
                    meta.license = match v {
                        Value::String(s) => s.trim().to_string(),
                        other => {
                            return Err(card_error(format!(
                                "`license` must be a licence id such as apache-2.0, found {}",
                                kind(other)
                            )))
                        }
                    }
                }
                "pipeline_tag" => meta.pipeline_tag = strings(key, v)?.into_iter().next(),
                "library_name" => meta.library_name = strings(key, v)?.into_iter().next(),
                "datasets" => meta.datasets = strings(key, v)?,
                "base_model" => meta.base_model = strings(key, v)?,
                "tags" => meta.tags = strings(key, v)?,
                "metrics" => meta.metrics = metric_names(v)?,
                other => {
                    let json = serde_json::to_value(v).map_err(|e| {
                        card_error(format!("`{other}` cannot be represented as JSON: {e}"))
                    })?;
                    meta.extra.insert(other.to_string(), json);
                }
            }
        }
        if meta.license.is_empty() {
            return Err(card_error(
                "the card names no `license`; buyers need one (e.g. `license: apache-2.0`, or \
                 `license: other` with the terms in the body)",
            ));
        }
        let valid_id = meta
            .license
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '+' | '_'));
        if !valid_id || meta.license.len() > 64 {
            return Err(card_error(format!(
                "`license: {}` is not a licence id (letters, digits, `-`, `.`, `+`; e.g. apache-2.0)",
                meta.license
            )));
        }
        Ok(ModelCard { meta, body: body.to_string(), raw: raw.to_vec() })
    }

    /// SHA-256 of the card's bytes (the registry's `cardHash`).
    pub fn sha256(&self) -> [u8; 32] {
        alara_store::sha256(&self.raw)
    }

    /// The card's first Markdown heading, if any (a display title).
    pub fn title(&self) -> Option<&str> {
        self.body.lines().find_map(|l| l.strip_prefix("# ")).map(str::trim)
    }

    /// A card for a model, written from its metadata (for models published without one).
    pub fn render(meta: &CardMeta, body: &str) -> Result<ModelCard> {
        let mut yaml = format!("license: {}\n", meta.license);
        let list = |name: &str, v: &[String], out: &mut String| {
            if !v.is_empty() {
                out.push_str(&format!("{name}:\n"));
                for s in v {
                    out.push_str(&format!("- {}\n", yaml_scalar(s)));
                }
            }
        };
        if let Some(t) = &meta.pipeline_tag {
            yaml.push_str(&format!("pipeline_tag: {}\n", yaml_scalar(t)));
        }
        if let Some(l) = &meta.library_name {
            yaml.push_str(&format!("library_name: {}\n", yaml_scalar(l)));
        }
        list("datasets", &meta.datasets, &mut yaml);
        list("base_model", &meta.base_model, &mut yaml);
        list("metrics", &meta.metrics, &mut yaml);
        list("tags", &meta.tags, &mut yaml);
        ModelCard::parse(format!("---\n{yaml}---\n{body}").as_bytes())
    }
}

/// A string as a YAML scalar (quoted as JSON, which YAML reads back exactly).
fn yaml_scalar(s: &str) -> String {
    serde_json::Value::String(s.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    const HUB: &str = "---\nlanguage: en\nlicense: mit\nlibrary_name: onnx\ntags:\n- tabular\n- medical\ndatasets:\n- scikit-learn/breast-cancer-wisconsin\nbase_model: alara/breast-cancer-logreg\nmetrics:\n- accuracy\n- name: f1\npipeline_tag: tabular-classification\nmodel-index:\n- name: x\n  results: []\n---\n\n# Breast-cancer classifier\n\nText.\n";

    #[test]
    fn a_hub_style_card_parses() {
        let c = ModelCard::parse(HUB.as_bytes()).unwrap();
        assert_eq!(c.meta.license, "mit");
        assert_eq!(c.meta.pipeline_tag.as_deref(), Some("tabular-classification"));
        assert_eq!(c.meta.base_model, vec!["alara/breast-cancer-logreg"]);
        assert_eq!(c.meta.metrics, vec!["accuracy", "f1"]);
        assert_eq!(c.meta.tags, vec!["tabular", "medical"]);
        assert_eq!(c.meta.extra["language"], "en");
        assert!(c.meta.extra.contains_key("model-index"));
        assert_eq!(c.title(), Some("Breast-cancer classifier"));
        assert_eq!(c.sha256(), alara_store::sha256(HUB.as_bytes()));
    }

    #[test]
    fn cards_without_front_matter_or_licence_are_refused_with_the_fix() {
        for (card, says) in [
            ("# no front matter\n", "starts with YAML front matter"),
            ("---\nlicense: mit\n", "no closing"),
            ("---\npipeline_tag: x\n---\n", "names no `license`"),
            ("---\nlicense: [a, b]\n---\n", "licence id"),
            ("---\nlicense: \"GPL; rm -rf\"\n---\n", "is not a licence id"),
            ("---\n- a\n- b\n---\n", "mapping"),
            ("---\nlicense: mit\ndatasets: {a: 1}\n---\n", "`datasets` must be"),
            ("---\nlicense: mit\n: [\n---\n", "not valid YAML"),
        ] {
            let e = ModelCard::parse(card.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(says), "{card:?}: {e}");
        }
        let big = vec![b'a'; MAX_CARD_BYTES + 1];
        assert!(ModelCard::parse(&big).unwrap_err().to_string().contains("at most"));
        assert!(ModelCard::parse(&[0xff, 0xfe]).unwrap_err().to_string().contains("UTF-8"));
    }

    #[test]
    fn rendered_cards_parse_back_to_their_metadata() {
        let meta = CardMeta {
            license: "apache-2.0".into(),
            pipeline_tag: Some("tabular-classification".into()),
            datasets: vec!["bafy: with a colon".into()],
            base_model: vec!["a\"quoted\" model".into()],
            metrics: vec!["accuracy".into()],
            ..CardMeta::default()
        };
        let c = ModelCard::render(&meta, "# Title\n").unwrap();
        assert_eq!(c.meta, meta);
        assert_eq!(c.title(), Some("Title"));
    }

    proptest::proptest! {
        #[test]
        fn any_list_of_names_renders_and_parses_back(
            names in proptest::collection::vec("[ -~]{1,20}", 0..4)
        ) {
            let names: Vec<String> =
                names.into_iter().map(|n| n.trim().to_string()).filter(|n| !n.is_empty()).collect();
            let meta = CardMeta { license: "mit".into(), datasets: names.clone(), ..CardMeta::default() };
            let c = ModelCard::render(&meta, "").unwrap();
            proptest::prop_assert_eq!(c.meta.datasets, names);
        }
    }
}
