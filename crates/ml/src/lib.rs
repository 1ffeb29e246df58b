//! alara-ml: placeholder, filled in by its issue.
