//! Tools that work on a book rather than serve it: the benchmark's book seeder ([`book`]), the
//! books' consistency check (`fathom verify`, [`verify`]) and the demo data (`fathom seed`,
//! [`seed`]). They use [`crate::service`]; nothing in `service` uses them.

pub mod book;
pub mod seed;
pub mod verify;
