//! The e-mail intake's poller: every few seconds (at most `mail_intake.poll_secs`, at
//! least every 30 s) it polls the mail accounts that are due. Runs wherever workers run
//! (`serve` with workers, `docuvault worker`); instances share the work through the
//! conditional claim of each account's `last_checked_at` (`intake::poll::claim_due`),
//! and a part is imported once anyway (its item is the claim).

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::state::AppState;

/// Polls due mail accounts until `shutdown`.
pub async fn run(state: AppState, shutdown: CancellationToken) {
    let tick = Duration::from_secs(state.settings.mail_intake.poll_secs.clamp(1, 30));
    loop {
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = tokio::time::sleep(tick) => {}
        }
        tokio::select! {
            () = shutdown.cancelled() => break,
            () = crate::intake::poll::poll_due(&state) => {}
        }
    }
}
