#![allow(clippy::unwrap_used, clippy::expect_used)]
#[path = "common/db.rs"]
mod db;
use migration::{Migrator, MigratorTrait};
#[tokio::test]
async fn dump() {
    let t = db::TestDb::fresh().await;
    let c = t.connect().await;
    Migrator::up(&c, None).await.unwrap();
    println!("URL {}", t.url);
    if t.is_postgres() {
        let out = std::process::Command::new("pg_dump")
            .args([
                "-s",
                "-U",
                "postgres",
                "-h",
                "127.0.0.1",
                t.url.rsplit('/').next().unwrap(),
            ])
            .output()
            .unwrap();
        println!("{}", String::from_utf8_lossy(&out.stdout));
    } else {
        let path = t
            .url
            .trim_start_matches("sqlite://")
            .trim_end_matches("?mode=rwc");
        let out = std::process::Command::new("sqlite3")
            .args([path, ".schema"])
            .output();
        match out {
            Ok(o) => println!("{}", String::from_utf8_lossy(&o.stdout)),
            Err(e) => println!("no sqlite3: {e}"),
        }
    }
}
