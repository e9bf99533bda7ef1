//! Background work: the workers and sweeper that process documents (fed by the job
//! queue in `queue.rs`), and the scheduled cleanup job.
//!
//! The database row is the source of truth; the queue only says "look at this".

pub mod cleanup;
pub mod pipeline;
pub mod scans;
pub mod scheduler;
pub mod vision;
pub mod worker;
