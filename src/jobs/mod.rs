//! Background work: the workers and sweeper that process documents (fed by the job
//! queue in `queue.rs`), the scheduled cleanup job, and thumbnails.
//!
//! The database row is the source of truth; the queue only says "look at this".

pub mod cleanup;
pub mod mail_intake;
pub mod pipeline;
pub mod scans;
pub mod scheduler;
pub mod thumbnails;
pub mod vision;
pub mod worker;
