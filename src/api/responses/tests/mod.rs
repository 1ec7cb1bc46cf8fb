//! Tests of the Responses dialect: golden fixtures under tests/fixtures/responses/, and the
//! invariants every translated stream must hold.

mod fixtures;
mod invariants;
mod mutate;
mod request_error_tests;
mod request_tests;
mod response_tests;
mod stream_rule_tests;
mod stream_tests;
