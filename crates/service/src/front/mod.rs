//! Front ends: they turn bytes from a transport into calls on the dispatcher and back.

pub mod parsec1;
pub mod unix;
