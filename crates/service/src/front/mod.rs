//! Front ends: they turn bytes from a transport into calls on the dispatcher and back.

pub mod unix;
