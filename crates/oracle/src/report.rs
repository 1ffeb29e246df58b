//! The report oracle nodes sign and `OracleAggregator` accepts.
