//! (being written) Integrity checks of a release.
