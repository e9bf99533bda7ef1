//! Background work: the job queue that dispatches document processing, and the
//! scheduled cleanup job.
//!
//! The database row is the source of truth; the queue only says "look at this".

pub mod cleanup;
pub mod queue;
pub mod scheduler;

pub use queue::{Job, MemoryQueue, Queue, QueueError, RedisQueue, Reserved};
