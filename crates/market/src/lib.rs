//! alara-market: placeholder, filled in by its issue.
