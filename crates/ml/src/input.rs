//! Inference inputs: the rows given to `alara infer --input <json|csv>`.
//!
//! Accepted forms:
//! - JSON: an array of arrays of numbers (`[[1.0, 2.0], [3.0, 4.0]]`), an array of
//!   objects keyed by feature name (`[{"a": 1.0, "b": 2.0}]`), or a single row of
//!   either kind;
//! - CSV: comma-separated numbers, one row per line, with an optional header row. With
//!   a header and known feature names, columns are matched by name (any order).
//!
//! A `label` column or key is ignored, so a dataset CSV can be fed back as input.

use std::path::Path;

use serde_json::Value;

use crate::{Error, Result};

const IGNORED: &str = "label";

/// Reads `arg` as inline JSON when it starts with `[` or `{`, otherwise as the path of
/// a `.json` or `.csv` file (format sniffed from the content), and parses it with
/// [`parse_rows`].
pub fn read_rows(arg: &str, feature_names: Option<&[String]>) -> Result<Vec<Vec<f32>>> {
    let trimmed = arg.trim_start();
    if trimmed.starts_with('[') || trimmed.starts_with('{') {
        return parse_rows(arg, feature_names);
    }
    let path = Path::new(arg);
    let text = crate::files::read_text_capped(path, crate::files::MAX_TABLE, "input rows")?;
    parse_rows(&text, feature_names)
}

/// Parses JSON or CSV text (see the [module docs](self)) into rows of features.
/// `feature_names` gives the column order for named inputs (objects, CSV headers).
pub fn parse_rows(text: &str, feature_names: Option<&[String]>) -> Result<Vec<Vec<f32>>> {
    let trimmed = text.trim_start();
    let rows = if trimmed.starts_with('[') || trimmed.starts_with('{') {
        parse_json(trimmed, feature_names)?
    } else {
        parse_csv(text, feature_names)?
    };
    if rows.is_empty() {
        return Err(Error::Input("no rows; expected at least one row of features".into()));
    }
    Ok(rows)
}

fn parse_json(text: &str, names: Option<&[String]>) -> Result<Vec<Vec<f32>>> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| Error::Input(format!("invalid JSON: {e}")))?;
    let rows: Vec<&Value> = match &value {
        Value::Array(items) if items.iter().all(Value::is_number) && !items.is_empty() => {
            vec![&value]
        }
        Value::Array(items) => items.iter().collect(),
        Value::Object(_) => vec![&value],
        other => {
            return Err(Error::Input(format!(
                "expected a JSON array of rows or one row, found {}",
                kind(other)
            )))
        }
    };
    rows.into_iter().enumerate().map(|(r, row)| json_row(r, row, names)).collect()
}

fn json_row(r: usize, row: &Value, names: Option<&[String]>) -> Result<Vec<f32>> {
    match row {
        Value::Array(values) => values
            .iter()
            .enumerate()
            .map(|(c, v)| json_number(v, &format!("row {r}, column {c}")))
            .collect(),
        Value::Object(map) => {
            let names = names.ok_or_else(|| {
                Error::Input(format!(
                    "row {r} is an object keyed by feature name, but the model declares no \
                     feature names; give rows as arrays in the model's column order"
                ))
            })?;
            if let Some(unknown) =
                map.keys().find(|k| k.as_str() != IGNORED && !names.iter().any(|n| n == *k))
            {
                return Err(Error::Input(format!(
                    "row {r}: unknown feature `{unknown}`; expected names: {}",
                    names.join(", ")
                )));
            }
            names
                .iter()
                .map(|n| {
                    let v = map
                        .get(n)
                        .ok_or_else(|| Error::Input(format!("row {r}: missing feature `{n}`")))?;
                    json_number(v, &format!("row {r}, feature `{n}`"))
                })
                .collect()
        }
        other => Err(Error::Input(format!(
            "row {r}: expected an array of numbers or an object, found {}",
            kind(other)
        ))),
    }
}

fn json_number(v: &Value, at: &str) -> Result<f32> {
    let x = v
        .as_f64()
        .ok_or_else(|| Error::Input(format!("{at}: expected a number, found {}", kind(v))))?;
    let f = x as f32;
    if !f.is_finite() {
        return Err(Error::Input(format!("{at}: {x} does not fit a finite f32")));
    }
    Ok(f)
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn parse_csv(text: &str, names: Option<&[String]>) -> Result<Vec<Vec<f32>>> {
    let mut lines = text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()).peekable();
    let Some(&(_, first)) = lines.peek() else { return Ok(Vec::new()) };
    let header: Vec<&str> = first.split(',').map(str::trim).collect();
    let has_header = header.iter().any(|f| f.parse::<f64>().is_err());
    if has_header {
        // A column named twice would silently feed one of the two values to the model.
        for (i, h) in header.iter().enumerate() {
            if header[..i].contains(h) {
                return Err(Error::Input(format!(
                    "CSV header: column `{h}` appears more than once (columns {} and {})",
                    header[..i].iter().position(|x| x == h).unwrap_or(0) + 1,
                    i + 1
                )));
            }
        }
    }
    // For each feature (in model order), the CSV column holding it.
    let columns: Option<Vec<usize>> = if has_header {
        lines.next();
        Some(match names {
            Some(names) => {
                if let Some(unknown) =
                    header.iter().find(|h| **h != IGNORED && !names.iter().any(|n| n == *h))
                {
                    return Err(Error::Input(format!(
                        "CSV header: unknown column `{unknown}`; expected names: {}",
                        names.join(", ")
                    )));
                }
                names
                    .iter()
                    .map(|n| {
                        header.iter().position(|h| h == n).ok_or_else(|| {
                            Error::Input(format!("CSV header: missing column `{n}`"))
                        })
                    })
                    .collect::<Result<_>>()?
            }
            None => (0..header.len()).filter(|&i| header[i] != IGNORED).collect(),
        })
    } else {
        None
    };
    let mut rows = Vec::new();
    for (idx, line) in lines {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if has_header && fields.len() != header.len() {
            return Err(Error::Input(format!(
                "CSV line {}: found {} fields, the header has {}",
                idx + 1,
                fields.len(),
                header.len()
            )));
        }
        let parse = |c: usize| -> Result<f32> {
            let f = fields[c];
            match f.parse::<f32>() {
                Ok(v) if v.is_finite() => Ok(v),
                _ => Err(Error::Input(format!(
                    "CSV line {}, column {}: `{f}` is not a finite number",
                    idx + 1,
                    c + 1
                ))),
            }
        };
        let row = match &columns {
            Some(cols) => cols.iter().map(|&c| parse(c)).collect::<Result<Vec<_>>>()?,
            None => (0..fields.len()).map(parse).collect::<Result<Vec<_>>>()?,
        };
        rows.push(row);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn names() -> Vec<String> {
        vec!["a".into(), "b".into()]
    }

    #[test]
    fn a_duplicated_csv_column_is_refused() {
        let err = parse_rows("a,b,a\n1,2,3\n", None).unwrap_err().to_string();
        assert!(err.contains("column `a` appears more than once (columns 1 and 3)"), "{err}");
    }

    #[test]
    fn json_forms() {
        assert_eq!(parse_rows("[[1,2],[3,4.5]]", None).unwrap(), vec![vec![1., 2.], vec![3., 4.5]]);
        assert_eq!(parse_rows("[1,2]", None).unwrap(), vec![vec![1., 2.]]);
        let n = names();
        assert_eq!(
            parse_rows(r#"[{"b":2,"a":1,"label":0}]"#, Some(&n)).unwrap(),
            vec![vec![1., 2.]]
        );
        assert_eq!(parse_rows(r#"{"a":1,"b":2}"#, Some(&n)).unwrap(), vec![vec![1., 2.]]);
    }

    #[test]
    fn json_errors_are_specific() {
        let n = names();
        let e = parse_rows(r#"[{"a":1}]"#, Some(&n)).unwrap_err().to_string();
        assert!(e.contains("missing feature `b`"), "{e}");
        let e = parse_rows(r#"[{"a":1,"b":2,"c":3}]"#, Some(&n)).unwrap_err().to_string();
        assert!(e.contains("unknown feature `c`"), "{e}");
        let e = parse_rows(r#"[{"a":1,"b":2}]"#, None).unwrap_err().to_string();
        assert!(e.contains("declares no feature names"), "{e}");
        let e = parse_rows(r#"[[1,"x"]]"#, None).unwrap_err().to_string();
        assert!(e.contains("row 0, column 1: expected a number, found a string"), "{e}");
        let e = parse_rows("[[1,2]", None).unwrap_err().to_string();
        assert!(e.contains("invalid JSON"), "{e}");
        assert!(parse_rows("[]", None).is_err());
        assert!(parse_rows("[[1e300]]", None).is_err());
    }

    #[test]
    fn csv_with_and_without_header() {
        assert_eq!(parse_rows("1,2\n3,4\n", None).unwrap(), vec![vec![1., 2.], vec![3., 4.]]);
        let n = names();
        assert_eq!(
            parse_rows("label,b,a\n0,2,1\n1,4,3\n", Some(&n)).unwrap(),
            vec![vec![1., 2.], vec![3., 4.]]
        );
        assert_eq!(parse_rows("a,label\n7,1\n", None).unwrap(), vec![vec![7.]]);
        let e = parse_rows("a,c\n1,2\n", Some(&n)).unwrap_err().to_string();
        assert!(e.contains("unknown column `c`"), "{e}");
        let e = parse_rows("a\n1\n", Some(&n)).unwrap_err().to_string();
        assert!(e.contains("missing column `b`"), "{e}");
        let e = parse_rows("1,2\n3,x\n", None).unwrap_err().to_string();
        assert!(e.contains("line 2, column 2"), "{e}");
        assert!(parse_rows("\n\n", None).is_err());
    }

    #[test]
    fn read_rows_reads_files_and_inline_json() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("in.csv");
        std::fs::write(&p, "1,2\n").unwrap();
        assert_eq!(read_rows(p.to_str().unwrap(), None).unwrap(), vec![vec![1., 2.]]);
        assert_eq!(read_rows(" [[5]]", None).unwrap(), vec![vec![5.]]);
        assert!(matches!(read_rows("/nonexistent.csv", None), Err(Error::Io { .. })));
    }

    proptest! {
        #[test]
        fn json_and_csv_agree(rows in prop::collection::vec(prop::collection::vec(-1e6f32..1e6, 3), 1..10)) {
            let json = serde_json::to_string(&rows).unwrap();
            let csv: String = rows.iter().map(|r| {
                r.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(",") + "\n"
            }).collect();
            prop_assert_eq!(parse_rows(&json, None).unwrap(), rows.clone());
            prop_assert_eq!(parse_rows(&csv, None).unwrap(), rows);
        }

        #[test]
        fn arbitrary_text_never_panics(s in ".{0,200}") {
            let _ = parse_rows(&s, Some(&names()));
        }
    }
}
