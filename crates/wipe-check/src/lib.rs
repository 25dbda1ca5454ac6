//! Test only: see `tests/wiping.rs`. Nothing here is part of the service.
