//! alara-fl: placeholder, filled in by its issue.
