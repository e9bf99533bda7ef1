//! Re-filing a whole vault (issue 18, "many documents at once"): the owner's button
//! "re-file everything not filed by hand" (`POST /api/topics/refile`) runs in the
//! background with progress (`GET`), cancellable (`DELETE`).
//!
//! - [`service`]: the run's row (`refile_runs`): start (422 unless the account uses the
//!   builtin classifier, 409 while one runs), progress, cancel, and the runner's claim
//!   with a lease, so that with several instances exactly one works on a run and a
//!   crashed instance's run is taken over where it stopped.
//! - [`batch`]: which documents (live, processed, with text, not filed by hand), the
//!   builtin model's decision for a batch (pure CPU work, the pipeline's guards), and the
//!   set-based write of a batch ([`batch::apply`], which takes the `(document, topic)`
//!   pairs never to file again, read by [`batch::rejected_pairs`]).
//! - [`runner`]: the background task (next to the job workers): trains the model once
//!   per run (again when the topics or hand-filings change), classifies batches on one
//!   low-priority thread, writes each in one transaction with the run's progress, and
//!   waits while the processing pipeline has work, so new uploads never wait for it.
//! - [`routes`]: the HTTP surface.
//!
//! Model providers are refused (422 `refile_needs_builtin`) rather than queued: sending
//! every document of a vault to a model is a cost and privacy decision the owner makes
//! on a selection (the bulk "re-classify" action, through the job queue).

pub mod batch;
pub mod routes;
pub mod runner;
pub mod service;
