//! Generates the client (`$OUT_DIR/client.rs`) with progenitor from the OpenAPI 3.0.3
//! document named by `DOCUVAULT_OPENAPI_3_0` (written by .ci/clients/run.sh).

use std::{env, fs, path::PathBuf};

fn main() {
    println!("cargo:rerun-if-env-changed=DOCUVAULT_OPENAPI_3_0");
    let spec_path = env::var("DOCUVAULT_OPENAPI_3_0").expect(
        "DOCUVAULT_OPENAPI_3_0 must name the 3.0 document (docuvault openapi --openapi-version 3.0)",
    );
    println!("cargo:rerun-if-changed={spec_path}");
    let text = fs::read_to_string(&spec_path).unwrap_or_else(|e| panic!("{spec_path}: {e}"));
    let mut json: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{spec_path} is not JSON: {e}"));
    drop_multipart_operations(&mut json);
    let spec: openapiv3::OpenAPI = serde_json::from_value(json)
        .unwrap_or_else(|e| panic!("{spec_path} is not OpenAPI 3.0: {e}"));
    let tokens = progenitor::Generator::default()
        .generate_tokens(&spec)
        .unwrap_or_else(|e| panic!("progenitor cannot generate a client from {spec_path}: {e}"));
    let file: syn::File = syn::parse2(tokens).expect("progenitor produced invalid Rust");
    let out = PathBuf::from(env::var("OUT_DIR").expect("OUT_DIR")).join("client.rs");
    fs::write(&out, prettyplease::unparse(&file)).expect("write the generated client");
}

/// progenitor 0.15 generates no `multipart/form-data` request bodies (it refuses the
/// whole spec): operations that take only such a body (`uploadDocument`, the one-request
/// upload) are left out of this client; the driver uses the three-step upload.
fn drop_multipart_operations(spec: &mut serde_json::Value) {
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    for item in paths.values_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        item.retain(|_, op| {
            let content = op.pointer("/requestBody/content").and_then(|c| c.as_object());
            !content.is_some_and(|c| !c.is_empty() && c.keys().all(|k| k == "multipart/form-data"))
        });
    }
}
