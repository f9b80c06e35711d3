//! Guards shared by every call an agent makes.

pub mod runaway;
