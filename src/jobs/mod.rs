//! Background work: the job queue that dispatches document processing, the workers
//! and sweeper that process documents, and the scheduled cleanup job.
//!
//! The database row is the source of truth; the queue only says "look at this".

pub mod cleanup;
pub mod pipeline;
pub mod queue;
pub mod scheduler;
pub mod worker;

pub use queue::{Job, Lanes, MemoryQueue, Queue, QueueError, RedisQueue, Reserved, SHARED_LANE};
