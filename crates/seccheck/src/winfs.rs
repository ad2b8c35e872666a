//! Windows file primitives seccheck needs beyond std (opening and creating without following a
//! symlink or other reparse point, renaming without replacing, whole-file locks): they live in
//! core, shared with logrotate's file layer.

pub use soak_core::winfs::*;
