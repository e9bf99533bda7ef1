//! E-mail intake: mail accounts (IMAP) whose attachments become documents. Each account
//! is polled every `mail_intake.poll_secs` by the instances that run workers, or checked
//! on demand; every part of every message taken is recorded as an item (imported, failed
//! or skipped, with the reason), once, whichever instance polls.

pub mod imap;
pub mod message;
pub mod poll;
pub mod routes;
pub mod service;
