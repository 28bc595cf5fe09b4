//! The committed `gateway/openapi.json` must be exactly what the code generates. To refresh it
//! after an API change: `RIALTO_UPDATE_OPENAPI=1 cargo test -p rialto-gateway --test openapi_drift`.

#[test]
fn the_committed_openapi_file_matches_the_code() {
    let generated = rialto_gateway::api::openapi::document();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("RIALTO_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "gateway/openapi.json is out of date; regenerate it with \
         RIALTO_UPDATE_OPENAPI=1 cargo test -p rialto-gateway --test openapi_drift"
    );
}
