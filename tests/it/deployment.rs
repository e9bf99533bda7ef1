//! compose.yaml and .env.example only set variables the binary actually reads, and no
//! deployment file ships a usable secret key.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;

use docuvault::settings::Settings;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// Marker in .env.example after which variables belong to the bundled containers.
const CONTAINER_ONLY: &str = "# --- Used by the bundled containers only";

fn env_example_vars() -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/.env.example")).unwrap();
    let app_part = text.split(CONTAINER_ONLY).next().unwrap();
    app_part
        .lines()
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim().to_owned())
        .collect()
}

fn compose_app_vars() -> BTreeSet<String> {
    let text = std::fs::read_to_string(format!("{ROOT}/compose.yaml")).unwrap();
    let doc: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    let env = &doc["services"]["app"]["environment"];
    match env {
        serde_yaml::Value::Mapping(m) => m.keys().map(|k| k.as_str().unwrap().to_owned()).collect(),
        serde_yaml::Value::Sequence(s) => s
            .iter()
            .map(|v| v.as_str().unwrap().split('=').next().unwrap().to_owned())
            .collect(),
        other => panic!("services.app.environment missing or odd: {other:?}"),
    }
}

#[test]
fn every_variable_compose_gives_the_app_is_read_by_the_binary() {
    let vars = compose_app_vars();
    assert!(vars.contains("DATABASE_URL"));
    for var in &vars {
        assert!(
            Settings::is_known_env_var(var),
            "compose sets unknown {var}"
        );
    }
}

#[test]
fn every_app_variable_in_env_example_is_read_by_the_binary() {
    let vars = env_example_vars();
    assert!(vars.contains("SECRET_KEY"));
    for var in &vars {
        assert!(
            Settings::is_known_env_var(var),
            ".env.example documents unknown {var}"
        );
    }
}

#[test]
fn compose_and_env_example_agree_on_the_app_variables_set_from_env() {
    // Every ${VAR} compose interpolates for the app is explained in .env.example.
    let text = std::fs::read_to_string(format!("{ROOT}/compose.yaml")).unwrap();
    let documented: BTreeSet<String> = std::fs::read_to_string(format!("{ROOT}/.env.example"))
        .unwrap()
        .lines()
        .filter(|l| !l.trim_start().starts_with('#') && l.contains('='))
        .map(|l| l.split('=').next().unwrap().trim().to_owned())
        .collect();
    for part in text.split("${").skip(1) {
        let name: String = part
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        assert!(
            documented.contains(&name),
            "compose uses ${{{name}}} not in .env.example"
        );
    }
}

#[test]
fn no_deployment_file_ships_a_secret_key() {
    // The key earlier defaults published is refused by the binary; no file a deployment
    // starts from may carry it (or any other key) again.
    for file in [
        "config/default.toml",
        ".env.example",
        "compose.yaml",
        "Dockerfile",
        "README.md",
    ] {
        let text = std::fs::read_to_string(format!("{ROOT}/{file}")).unwrap();
        assert!(
            !text.contains(docuvault::crypto::PUBLISHED_DEVELOPMENT_KEY),
            "{file} contains the published development key"
        );
    }
    let defaults = Settings::load(None, &Default::default()).unwrap();
    assert_eq!(defaults.configured_secret_key(), None);
    let example = std::fs::read_to_string(format!("{ROOT}/.env.example")).unwrap();
    let secret_line = example
        .lines()
        .find(|l| l.starts_with("SECRET_KEY="))
        .expect("SECRET_KEY in .env.example");
    assert_eq!(
        secret_line, "SECRET_KEY=",
        "the example leaves the key to the operator"
    );
}
