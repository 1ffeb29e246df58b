//! The shipped series are what `scripts/make_oracle_datasets.py` writes from the PyPI
//! package vega-datasets (installed in `.venv` by the test script).

#[test]
fn shipped_series_match_their_script() {
    let python = std::env::var("ALARA_PYTHON").unwrap_or_else(|_| {
        panic!(
            "ALARA_PYTHON is not set: run scripts/test.sh, which installs vega-datasets into .venv"
        )
    });
    let root = alara_chain::tools::repo_root().expect("the repository root");
    let out = std::process::Command::new(&python)
        .arg(root.join("scripts/make_oracle_datasets.py"))
        .arg("--check")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    assert!(
        out.status.success(),
        "datasets/seattle_weather.csv or stocks.csv differ from the script's output:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
