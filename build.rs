fn main() {
    // Only the Node binding needs napi's link settings; plain `cargo test` builds without them.
    if std::env::var_os("CARGO_FEATURE_NAPI").is_some() {
        napi_build::setup();
    }
}
