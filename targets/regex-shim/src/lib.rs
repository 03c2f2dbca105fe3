//! `regex` as oci-spec uses it, backed by regex-lite (see Cargo.toml for why).
pub use regex_lite::{Error, Regex, RegexBuilder};
