//! Placeholder until the frontend issue lands.

fn main() {}
