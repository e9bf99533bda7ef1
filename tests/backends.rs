//! Object store and queue backends behave the same on every configuration.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::TestApp;
use docuvault::domain::ObjectKey;
use docuvault::jobs::{Job, MemoryQueue, Queue};

#[tokio::test]
async fn object_store_round_trip() {
    let app = TestApp::spawn().await;
    let store = &app.state.storage;
    let key = ObjectKey::parse(&format!(
        "{}/{}/{}.pdf",
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4()
    ))
    .unwrap();

    assert_eq!(store.stat(&key).await.unwrap(), None);
    assert_eq!(store.get(&key).await.unwrap(), None);

    let bytes = b"%PDF-1.7 hello".repeat(1000);
    store
        .put(&key, bytes.clone(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(
        store.stat(&key).await.unwrap().unwrap().size_bytes,
        bytes.len() as u64
    );
    assert_eq!(store.get(&key).await.unwrap().unwrap(), bytes);

    store
        .put(&key, b"v2".to_vec(), "application/pdf")
        .await
        .unwrap();
    assert_eq!(store.stat(&key).await.unwrap().unwrap().size_bytes, 2);

    store.delete(&key).await.unwrap();
    assert_eq!(store.stat(&key).await.unwrap(), None);
    store.delete(&key).await.unwrap();
}

async fn exercise_queue(queue: &dyn Queue) {
    let worker = format!("w-{}", uuid::Uuid::new_v4().simple());
    assert!(
        queue
            .reserve(&worker, Duration::from_millis(200))
            .await
            .unwrap()
            .is_none()
    );
    let a = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    let b = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&a).await.unwrap();
    queue.enqueue(&b).await.unwrap();
    let first = queue
        .reserve(&worker, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.job, a, "FIFO order");
    queue.ack(&worker, &first).await.unwrap();
    let second = queue
        .reserve(&worker, Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(second.job, b);
    queue.ack(&worker, &second).await.unwrap();
    assert!(
        queue
            .reserve(&worker, Duration::from_millis(100))
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn configured_queue_delivers_in_order_and_acks() {
    let app = TestApp::spawn().await;
    exercise_queue(app.state.queue.as_ref()).await;
}

#[tokio::test]
async fn memory_queue_wakes_a_waiting_worker() {
    let queue = std::sync::Arc::new(MemoryQueue::default());
    let waiter = {
        let queue = queue.clone();
        tokio::spawn(async move { queue.reserve("w", Duration::from_secs(10)).await })
    };
    let job = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&job).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), waiter)
        .await
        .expect("woken")
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(got.job, job);
    exercise_queue(queue.as_ref()).await;
}

#[tokio::test]
async fn redis_keeps_unacked_jobs_in_the_workers_processing_list() {
    let Ok(url) = std::env::var("DOCUVAULT_TEST_REDIS_URL") else {
        // Without Redis the in-process queue is covered above.
        return;
    };
    let prefix = format!("dvtest:{}:", uuid::Uuid::new_v4().simple());
    let queue = docuvault::jobs::RedisQueue::new(&url, &prefix, 2).unwrap();
    queue.health().await.unwrap();
    let job = Job::ProcessDocument {
        document_id: uuid::Uuid::new_v4(),
    };
    queue.enqueue(&job).await.unwrap();
    let reserved = queue
        .reserve("crashy", Duration::from_secs(1))
        .await
        .unwrap()
        .unwrap();
    // Not acked: still recorded under the worker, gone from the main list.
    let client = deadpool_redis::redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let processing: Vec<String> = deadpool_redis::redis::cmd("LRANGE")
        .arg(format!("{prefix}processing:crashy"))
        .arg(0)
        .arg(-1)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(processing.len(), 1);
    let pending: i64 = deadpool_redis::redis::cmd("LLEN")
        .arg(format!("{prefix}jobs"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(pending, 0);
    queue.ack("crashy", &reserved).await.unwrap();
    let left: i64 = deadpool_redis::redis::cmd("LLEN")
        .arg(format!("{prefix}processing:crashy"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0);
}
