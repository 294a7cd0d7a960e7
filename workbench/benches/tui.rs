//! Rendering benchmark of the terminal UI's screens (filled in below).

fn main() {}
