//! Background work: the job queue that dispatches document processing.
//!
//! The database row is the source of truth; the queue only says "look at this".

pub mod queue;

pub use queue::{Job, MemoryQueue, Queue, QueueError, RedisQueue, Reserved};
