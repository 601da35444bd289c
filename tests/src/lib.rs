//! The shared test kit of ferrofold's crates: fuzzing of every parser and loader (`fuzz`, run by
//! `tests/fuzz.rs` and, for long runs, `src/bin/fuzz.rs`).

pub mod fuzz;
